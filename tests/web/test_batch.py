"""Batch upload: several ``data`` fields in one request, all stored or none."""

import io
from pathlib import Path

import pytest

from helpers import make_image


def post_batch(client, files: list[tuple[bytes, str]]):
    """POST several files, each in its own ``data`` field."""
    return client.post(
        "/storage/",
        data={"data": [(io.BytesIO(data), name) for data, name in files]},
        content_type="multipart/form-data",
    )


def stored_images(settings) -> list[Path]:
    """Every image folder in the storage root."""
    return [path for path in Path(settings.storage).glob("*/*/*") if path.is_dir()]


@pytest.mark.parametrize("method", ["post", "put"])
def test_batch_answers_references_in_order(client, method):
    """Each field is stored; the JSON list follows the order of the fields."""
    images = [make_image(fmt) for fmt in ("PNG", "JPEG", "GIF")]
    fields = [(io.BytesIO(data), f"{n}.img") for n, data in enumerate(images)]
    response = getattr(client, method)(
        "/storage/", data={"data": fields}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    refs = response.get_json()
    assert len(refs) == 3 and len(set(refs)) == 3
    for ref, data in zip(refs, images, strict=True):
        with client.get(f"/storage/{ref}") as image:
            assert image.data == data


@pytest.mark.parametrize("bad, name, message", [
    (b"not an image", "notes.txt", "file 2 ('notes.txt'): the file is not an image"),
    (b"", "empty.png", "file 2 ('empty.png') is empty"),
    (b"", "", "file 2 is empty"),
])
def test_one_bad_file_fails_the_batch(client, settings, bad, name, message):
    """A bad file answers 400 naming it, and nothing of the batch is stored."""
    response = post_batch(
        client, [(make_image(), "a.png"), (bad, name), (make_image(), "c.png")]
    )
    assert response.status_code == 400
    assert message in response.get_json()["detail"]
    assert stored_images(settings) == []


def test_oversized_file_in_batch_is_422_naming_it(tmp_path):
    """An image above the pixel limit fails the batch with the oversize status."""
    from progimage import create_app
    from progimage.config import Settings

    settings = Settings(storage=str(tmp_path), max_pixels=1000)
    client = create_app(settings).test_client()
    response = post_batch(
        client, [(make_image(size=(10, 10)), "a.png"), (make_image(), "big.png")]
    )
    assert response.status_code == 422
    assert "file 2 ('big.png')" in response.get_json()["detail"]
    assert stored_images(settings) == []


def test_storage_failure_rolls_back_the_batch(app, client, settings, monkeypatch):
    """If saving fails half-way, the images already saved are removed again."""
    storage = app.extensions["progimage"].storage
    real_save = storage.save
    calls = []

    def failing_save(ref, data, record):
        calls.append(ref)
        if len(calls) == 2:
            raise OSError("disk full")
        real_save(ref, data, record)

    monkeypatch.setattr(storage, "save", failing_save)
    response = post_batch(client, [(make_image(), "a.png"), (make_image(), "b.png")])
    assert response.status_code == 500
    assert stored_images(settings) == []


def test_single_field_keeps_plain_text_answer(client):
    """One ``data`` field still answers the bare reference as text/plain."""
    response = post_batch(client, [(make_image(), "a.png")])
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
