"""Full and read-only disks: uploads answer 507 or 503 and keep nothing partial;
conversions are answered even when the variant cache cannot be written.

The disks are real, small tmpfs mounts where mounting works (root, as on CI); the
same failures are also simulated (ENOSPC, EROFS) so that they are tested everywhere.
"""

import errno
import io
import os
import subprocess

import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from helpers import decode, make_image, upload
from progimage import create_app, variants
from progimage.config import Settings
from progimage.storage import filesystem
from system_programs import unavailable


def mount_tmpfs(disk, *options: str) -> None:
    """Mount a tmpfs with ``options`` on ``disk``, or skip (fail on CI) if that
    cannot be done here."""
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(disk)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        unavailable("cannot mount a tmpfs here (needs root): "
                    + mounted.stderr.decode().strip())


@pytest.fixture(name="small_disk")
def _small_disk(tmp_path):
    """A 256 KiB tmpfs mounted for the test (needs root, as on CI)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount_tmpfs(disk, "size=256k")
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
    data = make_image("PNG")
    response = upload(disk_client, data)
    assert response.status_code == 200
    with disk_client.get(f"/storage/{response.get_data(as_text=True)}") as stored:
        assert stored.data == data


def noise_png(side: int = 200) -> bytes:
    """A PNG of noise: its BMP conversions are ``side``² x 3 bytes, ~117 KiB."""
    buffer = io.BytesIO()
    Image.effect_noise((side, side), 60).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def cache_write_errors(client) -> float:
    """progimage_cache_write_errors_total, as /metrics reports it."""
    text = client.get("/metrics").get_data(as_text=True)
    return next(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "progimage_cache_write_errors_total"
    )


def variant_files(cache) -> tuple[list[str], list[str]]:
    """(variant files, temporary files) in the cache folder, by name."""
    files = [path for path in cache.folder.glob("*/*/*") if path.is_file()]
    return (
        sorted(path.name for path in files if not path.name.startswith(".")),
        sorted(path.name for path in files if path.name.startswith(".")),
    )


def cached_total(cache) -> int:
    """The size total the cache keeps in its ``.size`` file."""
    return int((cache.folder / ".size").read_bytes())


@pytest.fixture(name="full_cache_client")
def _full_cache_client(tmp_path, small_disk):
    """A client of an app whose variant cache is on the small disk."""
    app = create_app(
        Settings(storage=str(tmp_path / "data"), cache_dir=str(small_disk))
    )
    yield app.test_client()
    app.extensions["progimage"].close()


def test_full_cache_disk_still_answers_conversions(full_cache_client):
    """Four ~117 KiB variants on a 256 KiB cache disk: every one is answered, the
    ones that did not fit are counted, nothing partial stays, the total is right."""
    client = full_cache_client
    ref = upload(client, noise_png()).get_data(as_text=True)
    for width in (200, 199, 198, 197):
        with client.get(f"/storage/{ref}.bmp?w={width}") as response:
            assert response.status_code == 200
            assert decode(response.data).width == width
    cache = client.application.extensions["progimage"].cache
    kept, temporary = variant_files(cache)
    assert len(kept) == 2
    assert temporary == []
    assert cached_total(cache) == sum(
        path.stat().st_size for path in cache.folder.glob("*/*/*")
    )
    assert cache_write_errors(client) == 2


class FillingFile:
    """A file that takes half of a write, then fails as on a full disk."""

    def __init__(self, file) -> None:
        self.file = file

    def __enter__(self) -> "FillingFile":
        return self

    def __exit__(self, *_) -> None:
        self.file.close()

    def write(self, data: bytes) -> None:
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_cache_write_failure_never_fails_the_answer(client, monkeypatch):
    """ENOSPC while writing a variant: answered 200 all the same, counted, no
    temporary file kept, total unchanged; the next conversion is cached again."""
    cache = client.application.extensions["progimage"].cache

    def filling_open(path, mode="r", *args, **kwargs):
        file = open(path, mode, *args, **kwargs)
        return FillingFile(file) if mode == "xb" else file

    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    monkeypatch.setattr(variants, "open", filling_open, raising=False)
    with client.get(f"/storage/{ref}.bmp") as response:
        assert response.status_code == 200
        assert decode(response.data).size == (64, 48)
    assert variant_files(cache) == ([], [])
    assert cached_total(cache) == 0
    assert cache_write_errors(client) == 1
    monkeypatch.undo()
    with client.get(f"/storage/{ref}.bmp?w=32") as response:
        assert response.status_code == 200
    [kept], _ = variant_files(cache)
    assert cached_total(cache) == (cache.folder / ref[:2] / ref / kept).stat().st_size


@pytest.fixture(name="read_only_client")
def _read_only_client(tmp_path):
    """A client of an app storing on a tmpfs that is made read-only once one image
    is stored; yields (client, ref)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount_tmpfs(disk, "size=4m")
    app = create_app(Settings(storage=str(disk)))
    client = app.test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    yield client, ref
    app.extensions["progimage"].close()
    subprocess.run(["umount", "-l", str(disk)], check=True)


def test_read_only_storage_is_unavailable_not_an_error(read_only_client):
    """A read-only mount (which stops root too): uploads and deletes answer 503 as
    /readyz does; reads and conversions still work."""
    client, ref = read_only_client
    assert client.get("/readyz").status_code == 503
    for response in (upload(client, make_image("PNG")),
                     client.delete(f"/storage/{ref}")):
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert "cannot be written" in response.get_json()["detail"]
    with client.get(f"/storage/{ref}") as response:
        assert response.status_code == 200
    with client.get(f"/storage/{ref}.webp?w=10") as response:
        assert response.status_code == 200
        assert decode(response.data).width == 10


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_unwritable_storage_answers_503(client, monkeypatch, code):
    """The same refusal simulated (EROFS, EACCES), for machines that cannot mount."""
    data = make_image("PNG")
    ref = upload(client, data).get_data(as_text=True)

    def refuse(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(filesystem, "_write_synced", refuse)
    monkeypatch.setattr(filesystem.os, "rename", refuse)
    assert upload(client, make_image("PNG")).status_code == 503
    assert client.delete(f"/storage/{ref}").status_code == 503
    monkeypatch.undo()
    with client.get(f"/storage/{ref}") as response:
        assert (response.status_code, response.data) == (200, data)
