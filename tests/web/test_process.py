"""POST /process.<ext>: the request's image converted, nothing kept."""

import io
import os

import pytest
from helpers import decode, make_image

from progimage.config import Settings

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
