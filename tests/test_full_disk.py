"""A full disk answers 507 and keeps nothing partial (a real, small tmpfs)."""

import io
import os
import subprocess

import pytest
from PIL import Image

from conftest import make_image, upload
from progimage import create_app
from progimage.config import Settings
from system_programs import unavailable


@pytest.fixture(name="small_disk")
def _small_disk(tmp_path):
    """A 256 KiB tmpfs mounted for the test (needs root, as on CI)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        unavailable("cannot mount a tmpfs here (needs root): "
                    + mounted.stderr.decode().strip())
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


@pytest.fixture(name="disk_client")
def _disk_client(small_disk):
    """A client of an app storing on the small disk."""
    app = create_app(Settings(storage=str(small_disk / "data")))
    yield app.test_client()
    app.extensions["progimage"].close()


def big_image() -> bytes:
    """A 400 KB BMP: more than the disk holds."""
    buffer = io.BytesIO()
    Image.effect_noise((370, 370), 60).convert("RGB").save(buffer, "BMP")
    return buffer.getvalue()


def stored_files(root) -> list[str]:
    """Every file under the storage root, relative to it."""
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root) for name in names
    )


def test_full_disk_is_507_and_leaves_no_partial_file(disk_client, small_disk):
    """An upload that does not fit answers 507; nothing of it stays on disk."""
    first = make_image("PNG")
    ref = upload(disk_client, first).get_data(as_text=True)
    before = stored_files(small_disk / "data")

    response = upload(disk_client, big_image())

    assert response.status_code == 507
    assert response.mimetype == "application/problem+json"
    assert "full" in response.get_json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    assert stored_files(small_disk / "data") == before
    with disk_client.get(f"/storage/{ref}") as earlier:
        assert earlier.data == first


def test_uploads_work_again_once_space_is_back(disk_client):
    """A full disk is not sticky: the next upload that fits is stored."""
    assert upload(disk_client, big_image()).status_code == 507
    response = upload(disk_client, make_image("PNG"))
    assert response.status_code == 200
