"""The filesystem backend's own promises: sharding, staging, clean-up at start.

Round trips, missing and malformed references are in the contract suite.
"""

import errno
import io
import json
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import make_image, upload, wait_until

from progimage.config import SettingsError
from progimage.exceptions import ImageNotFound, StorageFull, StorageUnavailable
from progimage.storage import filesystem
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
    (incoming / f"{os.getpid()}.abc.probe").write_bytes(b"probe")  # check()'s file
    (incoming / "junk").mkdir()
    FilesystemStorage(tmp_path / "store")
    assert sorted(p.name for p in incoming.iterdir()) == [
        f"{os.getpid()}.abc.probe", f"{os.getpid()}.alive"]


def test_staging_of_a_zombie_writer_is_removed_at_start(tmp_path):
    """A writer killed but not yet reaped (a zombie) will never write again."""
    writer = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{writer.pid}/stat")
    wait_until(lambda: stat.read_text().rpartition(")")[2].split()[0] == "Z",
               "the writer's exit")
    staging = tmp_path / "store" / ".incoming" / f"{writer.pid}.abc"
    staging.mkdir(parents=True)
    FilesystemStorage(tmp_path / "store")
    writer.wait()
    assert not staging.exists()


def test_saved_record_reads_back(storage):
    """The record written beside the original is the one given."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    assert storage.record(ref) == RECORD
    assert json.loads((storage.root / ref[:2] / ref[2:4] / ref / "record.json")
                      .read_bytes())["size"] == 3


def test_the_record_file_holds_every_field_as_json(storage):
    """record.json is one flat JSON object, keys sorted, the focus an array; it
    reads back as the record saved."""
    ref = str(uuid.uuid4())
    record = replace(RECORD, focus=(0.25, 0.5), blurhash="L00000fQfQfQfQfQfQfQfQfQfQfQ",
                     colour="#102030")
    storage.save(ref, io.BytesIO(b"abc"), record)
    text = (storage.root / ref[:2] / ref[2:4] / ref / "record.json").read_text()
    assert text == (
        '{"blurhash": "L00000fQfQfQfQfQfQfQfQfQfQfQ", "colour": "#102030", '
        '"created": "2026-01-01T00:00:00+00:00", "eager": "", "focus": [0.25, 0.5], '
        '"format": "PNG", "frames": 1, "has_alpha": false, "height": 2, '
        '"mime": "image/png", "mode": "RGB", "orientation": 1, "sha256": "'
        + "ab" * 32 + '", "size": 3, "source_url": "", "width": 3}'
    )
    assert storage.record(ref) == record


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
    original, its record, the image's folder (their entries), the two shard
    folders created for it and the root (their entries), and the shard that
    received the new image were fsynced (a killed process cannot show this: the
    page cache outlives it); in both forms."""
    data = make_image("PNG")
    response = (upload(client, data) if form == "multipart" else
                client.put("/storage/", data=data, content_type="image/png"))
    assert response.status_code == 200
    ref = response.get_data(as_text=True)
    root = Path(settings.storage)
    folder = root / ref[:2] / ref[2:4] / ref
    # In the order that makes each entry durable after what it points to: the
    # files, their folder, the root and the first shard (each got a new shard
    # folder), then the shard that received the image.
    expected = {"original": folder / "original", "record": folder / "record.json",
                "image folder": folder, "root": root,
                "first shard": folder.parent.parent, "second shard": folder.parent}
    identities = {(path.stat().st_dev, path.stat().st_ino): name
                  for name, path in expected.items()}
    assert [identities[i] for i in fsynced if i in identities] == list(expected)


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


def test_a_kept_record_follows_an_update_elsewhere(tmp_path):
    """A record updated through another process (a stored focus point) is read
    afresh here, although the original is the same file."""
    here = FilesystemStorage(tmp_path)
    ref = str(uuid.uuid4())
    here.save(ref, io.BytesIO(b"abc"), RECORD)
    assert here.record(ref) == RECORD
    FilesystemStorage(tmp_path).update_record(ref, replace(RECORD, focus=(0.2, 0.8)))
    assert here.record(ref).focus == (0.2, 0.8)


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


def test_a_kept_record_follows_a_placeholder_stored_elsewhere(tmp_path):
    """A record replaced through another process (a placeholder or focus stored by
    another gunicorn worker) is read afresh here, as it is in that process."""
    here, elsewhere = FilesystemStorage(tmp_path), FilesystemStorage(tmp_path)
    ref = str(uuid.uuid4())
    here.save(ref, io.BytesIO(b"abc"), RECORD)
    assert here.record(ref) == elsewhere.record(ref) == RECORD
    updated = replace(RECORD, blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj", colour="#7f7f80")
    elsewhere.update_record(ref, updated)
    assert here.record(ref) == updated
    assert elsewhere.record(ref) == updated
    with here.open(ref) as original:
        assert original.read() == b"abc"


def test_a_missing_image_is_named_in_the_answer(storage, tmp_path):
    """Every way of reaching an image that is not there says which one was asked
    for: the detail of the 404 problem document."""
    ref = str(uuid.uuid4())
    linked = str(uuid.uuid4())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (storage.root / linked[:2]).symlink_to(elsewhere)
    for attempt in (storage.record, storage.open, storage.delete):
        with pytest.raises(ImageNotFound) as missing:
            attempt(ref)
        assert missing.value.detail == f"no image is stored under {ref}"
    with pytest.raises(ImageNotFound) as behind_a_link:
        storage.open(linked)
    assert behind_a_link.value.detail == f"no image is stored under {linked}"


@pytest.mark.parametrize(("code", "error", "detail"), [
    (errno.ENOSPC, StorageFull, "the image store is full; try again later"),
    (errno.EROFS, StorageUnavailable,
     "the image store cannot be written (Read-only file system); try again later"),
])
def test_a_delete_on_a_full_or_read_only_disk_says_so(
    storage, monkeypatch, code, error, detail
):
    """A delete that cannot be written is a 507 or 503 with its reason, not a 500."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)

    def refuse(*_):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(error) as refused:
        storage.delete(ref)
    assert refused.value.detail == detail


def test_the_readiness_probe_names_why_the_folder_is_not_writable(
    storage, monkeypatch
):
    """``check`` (behind /health/ready) gives the system's reason in its words."""
    def refuse(*_):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(filesystem, "_write_synced", refuse)
    with pytest.raises(StorageUnavailable) as refused:
        storage.check()
    assert refused.value.detail == (
        "the storage folder is not writable (Read-only file system)"
    )


def test_a_delete_frees_the_space_at_once(storage):
    """The unpublished folder is removed too, not left to the next start."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    storage.delete(ref)
    assert list((storage.root / ".incoming").iterdir()) == []


def test_a_file_in_place_of_the_storage_folder_is_named(tmp_path):
    """A wrong PROGIMAGE_STORAGE stops the start with the path in the message."""
    blocker = tmp_path / "store"
    blocker.write_bytes(b"")
    with pytest.raises(SettingsError) as refused:
        FilesystemStorage(blocker)
    assert str(refused.value) == (
        f"PROGIMAGE_STORAGE={str(blocker)!r} is not a folder (a file is in the way)"
    )


@pytest.mark.parametrize("level", ["folder", "shard"])
def test_a_link_swapped_in_after_a_read_is_still_refused(storage, tmp_path, level):
    """Records are kept after the first read, with the folder's links checked
    then: a folder (or shard) replaced by a link afterwards, even one leading to
    another stored image's files, answers 404 to the record and to the file."""
    ref, other = "aa" + str(uuid.uuid4())[2:], "bb" + str(uuid.uuid4())[2:]
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    storage.save(other, io.BytesIO(b"xyz"), RECORD)
    assert storage.record(ref) == RECORD  # kept now
    with storage.open(ref) as original:
        assert original.read() == b"abc"
    folder = storage.root / ref[:2] / ref[2:4] / ref
    swapped = folder if level == "folder" else storage.root / ref[:2]
    target = (storage.root / other[:2] / other[2:4] / other if level == "folder"
              else tmp_path / "elsewhere")
    if level == "shard":
        (target / ref[2:4] / ref).mkdir(parents=True)
        for name in ("original", "record.json"):
            (target / ref[2:4] / ref / name).write_bytes((folder / name).read_bytes())
    swapped.rename(tmp_path / "moved")
    swapped.symlink_to(target)
    with pytest.raises(ImageNotFound):
        storage.record(ref)
    with pytest.raises(ImageNotFound):
        storage.open(ref)


def test_a_kept_record_serves_the_same_file_without_rechecking(storage, monkeypatch):
    """A second read of a kept record and its file makes no link checks: the
    files are the same ones (device and inode) that were checked."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    storage.record(ref)
    checked = []
    real_islink = os.path.islink
    monkeypatch.setattr(os.path, "islink",
                        lambda path: checked.append(path) or real_islink(path))
    assert storage.record(ref) == RECORD
    with storage.open(ref) as original:
        assert original.read() == b"abc"
    assert checked == []
