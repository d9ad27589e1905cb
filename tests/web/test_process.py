"""POST /process.<ext>: the request's image converted, nothing kept."""

import io
import os

import pytest
from helpers import decode, make_image

from progimage.config import Settings
from progimage.signing import signed_query

PNG = make_image("PNG", (64, 48))


def stored_files(settings: Settings) -> list[str]:
    """Every file under the storage folder (the variant cache's included) but the
    cache's size counter."""
    return [name for _, _, names in os.walk(settings.storage) for name in names
            if name != ".size"]


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_the_body_is_converted_and_nothing_is_kept(client, settings, how):
    sent = ({"data": PNG, "content_type": "image/png"} if how == "raw"
            else {"data": {"data": (io.BytesIO(PNG), "a.png")}})
    response = client.post("/process.webp?w=32", **sent)
    assert response.status_code == 200
    assert response.mimetype == "image/webp"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    image = decode(response.data)
    assert (image.format, image.size) == ("WEBP", (32, 24))
    assert stored_files(settings) == []


@pytest.mark.parametrize("body, query, status, detail", [
    (b"", "", 400, "the body is empty: send the image, raw or as 'data'"),
    (b"not an image", "", 400, "the file is not an image in a format we read"),
    (PNG, "?w=banana", 400, None),
    (PNG, "?nonsense=1", 400, None),
])
def test_bad_requests_are_refused(client, body, query, status, detail):
    response = client.post(f"/process.png{query}", data=body)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    if detail:
        assert response.get_json()["detail"] == detail


def test_an_unknown_extension_is_refused(client):
    response = client.post("/process.nope", data=PNG)
    assert response.status_code == 400
    assert "nope" in response.get_json()["detail"]


def test_the_pixel_limit_holds(tmp_path, app_factory):
    client = app_factory(Settings(storage=str(tmp_path / "d"), max_pixels=1000)
                         ).test_client()
    response = client.post("/process.png", data=PNG)
    assert response.status_code == 422


def test_the_upload_limit_holds(tmp_path, app_factory):
    client = app_factory(Settings(storage=str(tmp_path / "d"), max_upload_bytes=100)
                         ).test_client()
    assert client.post("/process.png", data=PNG).status_code == 413


def test_keys_are_needed_when_set(tmp_path, app_factory):
    client = app_factory(Settings(storage=str(tmp_path / "d"), api_keys="k")
                         ).test_client()
    assert client.post("/process.png", data=PNG).status_code == 401
    response = client.post("/process.png", data=PNG,
                           headers={"Authorization": "Bearer k"})
    assert decode(response.data).size == (64, 48)


def _process_client(tmp_path, app_factory, **settings):
    return app_factory(Settings(storage=str(tmp_path / "d"), **settings)).test_client()


def test_presets_apply_and_explicit_options_win(tmp_path, app_factory):
    client = _process_client(tmp_path, app_factory, presets="thumb=w:16,h:16,fit:cover")
    assert decode(client.post("/process.png?preset=thumb", data=PNG).data).size == (
        16, 16)
    response = client.post("/process.png?preset=thumb&h=8", data=PNG)
    assert decode(response.data).size == (16, 8)


def test_only_presets_refuses_other_options(tmp_path, app_factory):
    client = _process_client(tmp_path, app_factory, presets="thumb=w:16",
                             only_presets=True)
    assert decode(client.post("/process.png?preset=thumb", data=PNG).data).size == (
        16, 12)
    response = client.post("/process.png?w=20", data=PNG)
    assert response.status_code == 400
    assert "thumb" in response.get_json()["detail"]


@pytest.mark.parametrize("accept, mime", [
    ("image/avif,image/webp,*/*", "image/avif"),
    ("image/webp,*/*;q=0.8", "image/webp"),
    ("*/*", "image/jpeg"),
])
def test_auto_answers_the_best_accepted_format(client, accept, mime):
    response = client.post("/process.auto?w=32", data=PNG, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == mime
    assert "Accept" in response.headers["Vary"]
    assert decode(response.data).size == (32, 24)


def test_auto_with_nothing_accepted_is_406(client):
    response = client.post("/process.auto", data=PNG, headers={"Accept": "text/html"})
    assert response.status_code == 406


def test_signed_reads_need_a_signature_of_the_process_url(tmp_path, app_factory):
    client = _process_client(tmp_path, app_factory, signing_keys="secret",
                             signed_reads="variants")
    unsigned = client.post("/process.png?w=16", data=PNG)
    assert unsigned.status_code == 403
    query = signed_query("secret", "/process.png", {"w": 16})
    assert decode(client.post(f"/process.png?{query}", data=PNG).data).size == (16, 12)
    elsewhere = signed_query("secret", "/process.webp", {"w": 16})
    assert client.post(f"/process.png?{elsewhere}", data=PNG).status_code == 403


def test_allowed_widths_hold(tmp_path, app_factory):
    client = _process_client(tmp_path, app_factory, allowed_widths="16,32")
    assert decode(client.post("/process.png?w=32", data=PNG).data).size == (32, 24)
    assert client.post("/process.png?w=20", data=PNG).status_code == 400
