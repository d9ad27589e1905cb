"""References cannot name anything outside storage, however they are spelled."""

import http.client
import io
import os

import pytest
import requests

from helpers import make_image, upload
from progimage.exceptions import ImageNotFound
from storage.storage_samples import RECORD

REF = "b7e4c2d1-5a6f-4e3b-9c8d-0f1e2d3c4b5a"


@pytest.mark.parametrize("path", [
    "../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc",
    "..%252F..%252Fetc", f"{REF}%2F..%2F..", f"{REF}%00.png", "%00", f"{REF}\x00",
    "a" * 5000, REF + "0" * 5000, f"{REF}/..", f"..%5C..%5C{REF}",
    f"%7B{REF}%7D", f"{REF[:-1]}%C3%A9", f"{REF}.png/../../x",
])
def test_odd_references_are_404_problems(app, client, path):
    """Traversal, encoded slashes, NUL bytes and over-long names answer 404."""
    response = client.get(f"/storage/{path}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    text = response.get_data(as_text=True)
    assert str(app.extensions["progimage"].storage.root) not in text
    assert len(text) < 300


@pytest.mark.parametrize("suffix", ["%2Finfo", "%2finfo", "%2F"])
def test_encoded_slash_after_a_stored_reference_is_404(client, suffix):
    """``<ref>%2Finfo`` is not ``<ref>/info``: 404, as the README promises."""
    ref = upload(client, make_image()).get_data(as_text=True)
    response = client.get(f"/storage/{ref}{suffix}")
    assert response.status_code == 404
    assert "encoded slashes" in response.get_json()["detail"]


def test_encoded_slash_is_404_under_gunicorn(live_server):
    """gunicorn decodes the path before routing too; the raw path still refuses."""
    files = {"data": ("a.png", make_image())}
    ref = requests.put(f"{live_server}/storage/", files=files, timeout=30).text
    host, port = live_server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", f"/storage/{ref}%2Finfo")
        response = connection.getresponse()
        assert response.status == 404
        assert b"encoded slashes" in response.read()
    finally:
        connection.close()


def plant(folder, data: bytes) -> None:
    """Put an image folder (original + record) at ``folder``, outside the store."""
    folder.mkdir(parents=True)
    (folder / "original").write_bytes(data)
    (folder / "record.json").write_bytes(RECORD.to_json())


@pytest.mark.parametrize("link", ["shard", "image"])
def test_symlinks_out_of_the_store_are_not_followed(app, client, tmp_path, link):
    """A shard or image folder symlinked to a place outside storage is not served."""
    root = app.extensions["progimage"].storage.root
    outside = tmp_path / "outside"
    plant(outside / REF[:2] / REF[2:4] / REF, make_image())
    (root / REF[:2]).mkdir()
    if link == "shard":
        os.symlink(outside / REF[:2] / REF[2:4], root / REF[:2] / REF[2:4])
    else:
        (root / REF[:2] / REF[2:4]).mkdir()
        os.symlink(outside / REF[:2] / REF[2:4] / REF, root / REF[:2] / REF[2:4] / REF)
    for path in (f"/storage/{REF}", f"/storage/{REF}.png"):
        assert client.get(path).status_code == 404


def test_no_write_through_a_symlinked_shard(app, tmp_path):
    """Saving under a shard that is a symlink to outside is refused; nothing lands."""
    storage = app.extensions["progimage"].storage
    outside = tmp_path / "outside"
    outside.mkdir()
    (storage.root / REF[:2]).mkdir()
    os.symlink(outside, storage.root / REF[:2] / REF[2:4])
    with pytest.raises(ImageNotFound):
        storage.save(REF, io.BytesIO(b"abc"), RECORD)
    assert list(outside.iterdir()) == []


def test_symlinked_store_root_is_fine(tmp_path):
    """The store itself may be reached through a symlink (e.g. /data -> a disk)."""
    from progimage import create_app
    from progimage.config import Settings

    (tmp_path / "disk").mkdir()
    os.symlink(tmp_path / "disk", tmp_path / "data")
    app = create_app(Settings(storage=str(tmp_path / "data")))
    client = app.test_client()
    ref = upload(client, make_image()).get_data(as_text=True)
    with client.get(f"/storage/{ref}") as response:
        assert response.status_code == 200
    assert (tmp_path / "disk" / ref[:2] / ref[2:4] / ref / "original").is_file()
