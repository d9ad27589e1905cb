"""The filesystem backend's own promises: sharding, staging, clean-up at start.

Round trips, missing and malformed references are in the contract suite.
"""

import io
import os
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import make_image, upload

from progimage.exceptions import ImageNotFound
from progimage.storage.filesystem import FilesystemStorage
from storage_samples import RECORD, FailingStream


@pytest.fixture(name="storage")
def _storage(tmp_path):
    """A filesystem backend in a temporary folder."""
    return FilesystemStorage(tmp_path / "store")


def test_files_are_sharded(storage):
    """An image lives two shard levels deep, named by its reference."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    assert (storage.root / ref[:2] / ref[2:4] / ref / "original").is_file()


def test_failed_write_leaves_no_staging_files(storage):
    """A write that fails midway leaves nothing in the staging folder."""
    with pytest.raises(OSError):
        storage.save(str(uuid.uuid4()), FailingStream(), RECORD)
    assert list((storage.root / ".incoming").iterdir()) == []


def test_abandoned_staging_is_removed_at_start(tmp_path):
    """Staging folders of dead processes are removed; live ones are kept."""
    incoming = tmp_path / "store" / ".incoming"
    incoming.mkdir(parents=True)
    (incoming / "999999999.dead").mkdir()
    (incoming / f"{os.getpid()}.alive").mkdir()
    (incoming / "junk").mkdir()
    FilesystemStorage(tmp_path / "store")
    assert sorted(p.name for p in incoming.iterdir()) == [f"{os.getpid()}.alive"]


@pytest.fixture(name="fsynced")
def _fsynced(monkeypatch) -> list[tuple[int, int]]:
    """The (device, inode) of every file or folder fsynced, in order."""
    synced: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def spy(descriptor: int) -> None:
        status = os.fstat(descriptor)
        synced.append((status.st_dev, status.st_ino))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", spy)
    return synced


@pytest.mark.parametrize("form", ["multipart", "raw"])
def test_upload_is_fsynced_before_it_is_answered(client, settings, fsynced, form):
    """The README promises durable writes: by the time the upload answers, the
    original, its record and the folder that received the new image were fsynced
    (a killed process cannot show this: the page cache outlives it); in both forms."""
    data = make_image("PNG")
    response = (upload(client, data) if form == "multipart" else
                client.put("/storage/", data=data, content_type="image/png"))
    assert response.status_code == 200
    ref = response.get_data(as_text=True)
    folder = Path(settings.storage) / ref[:2] / ref[2:4] / ref
    expected = [folder / "original", folder / "record.json", folder.parent]
    for path in expected:
        status = path.stat()
        assert (status.st_dev, status.st_ino) in fsynced, f"{path} not fsynced"


def test_a_kept_record_does_not_outlive_a_delete_elsewhere(tmp_path):
    """Each process keeps the records it read; a DELETE through another process
    (another backend on the same folder) answers 404 here at once."""
    here, elsewhere = FilesystemStorage(tmp_path), FilesystemStorage(tmp_path)
    ref = str(uuid.uuid4())
    here.save(ref, io.BytesIO(b"abc"), RECORD)
    assert here.record(ref) == RECORD
    elsewhere.delete(ref)
    with pytest.raises(ImageNotFound):
        here.record(ref)


def test_a_kept_record_follows_a_restored_original(tmp_path):
    """An image written again under its reference (a restore from backup) is read
    afresh: its new record is answered, not the one kept."""
    storage = FilesystemStorage(tmp_path)
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    assert storage.record(ref).size == 3
    restored = replace(RECORD, size=5, sha256="0" * 64)
    FilesystemStorage(tmp_path).delete(ref)
    FilesystemStorage(tmp_path).save(ref, io.BytesIO(b"abcde"), restored)
    assert storage.record(ref) == restored


def test_a_kept_record_is_read_once(storage, monkeypatch):
    """A second read of the same image stats the original, not its record."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    storage.record(ref)
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a[0])
                        or real_open(*a, **k))
    assert storage.record(ref) == RECORD
    assert opened == []
