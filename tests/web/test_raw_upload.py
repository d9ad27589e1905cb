"""The second upload form: the image itself as the body, ``Content-Type: image/*``."""

import os

import pytest
from helpers import answered_reference, decode, make_image

from progimage.config import Settings

PNG = make_image("PNG", (40, 30))


def stored_files(settings: Settings) -> list[str]:
    """Every file under the storage folder but the variant cache's size counter."""
    return [name for _, _, names in os.walk(settings.storage) for name in names
            if name != ".size"]


@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize("path", ["/storage/", "/storage"])
def test_a_raw_body_is_stored_byte_exact(client, method, path):
    """The reference comes back as with multipart; the original is the body."""
    ref = answered_reference(
        client.open(path, method=method, data=PNG, content_type="image/png"))
    with client.get(f"/storage/{ref}") as stored:
        assert stored.mimetype == "image/png"
        assert stored.data == PNG
    assert decode(client.get(f"/storage/{ref}.webp?w=20").data).size == (20, 15)


def test_the_format_is_detected_not_taken_from_the_header(client):
    """A JPEG sent as image/png is stored and served as the JPEG it is."""
    jpeg = make_image("JPEG", (16, 16))
    ref = client.put("/storage/", data=jpeg, content_type="image/png").text
    info = client.get(f"/storage/{ref}/info").get_json()
    assert (info["format"], info["width"]) == ("JPEG", 16)
    with client.get(f"/storage/{ref}") as stored:
        assert (stored.mimetype, stored.data) == ("image/jpeg", jpeg)


@pytest.mark.parametrize("body, detail", [
    (b"", "the body is empty"),
    (b"hello, world", "the file is not an image in a format we read"),
    (PNG[: len(PNG) // 2], "cannot be decoded"),
], ids=["empty", "text", "truncated"])
def test_a_bad_raw_body_is_400_and_nothing_is_kept(client, settings, body, detail):
    """Checked in the converter as multipart uploads are; a refusal stores nothing."""
    response = client.put("/storage/", data=body, content_type="image/png")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert detail in response.get_json()["detail"]
    assert stored_files(settings) == []


def test_a_raw_body_over_the_limit_is_413(tmp_path, app_factory):
    """PROGIMAGE_MAX_UPLOAD_BYTES holds for raw bodies, naming the limit."""
    settings = Settings(storage=str(tmp_path / "d"), max_upload_bytes=100)
    client = app_factory(settings).test_client()
    response = client.put("/storage/", data=PNG, content_type="image/png")
    assert response.status_code == 413
    assert "100 bytes" in response.get_json()["detail"]
    assert stored_files(settings) == []


def test_other_types_are_not_taken_as_the_image(client):
    """Only image/* bodies are the image: anything else still needs the field."""
    response = client.put("/storage/", data=PNG,
                          content_type="application/octet-stream")
    assert response.status_code == 400
    assert "an image/* body" in response.get_json()["detail"]


def test_a_browser_is_sent_to_the_page(client):
    """As with the form: a client preferring HTML is redirected to its card."""
    response = client.put("/storage/", data=PNG, content_type="image/png",
                          headers={"Accept": "text/html"})
    assert response.status_code == 303
    assert "ref=" in response.headers["Location"]
