"""The filesystem backend: round trips, atomic publication, odd references refused."""

import io
import os
import uuid

import pytest

from progimage.exceptions import ImageNotFound
from progimage.storage import ImageRecord
from progimage.storage.filesystem import FilesystemStorage

RECORD = ImageRecord(
    format="PNG", mime="image/png", width=1, height=1, frames=1, mode="RGB",
    size=3, sha256="0" * 64, created="2026-01-01T00:00:00+00:00",
)


@pytest.fixture(name="storage")
def _storage(tmp_path):
    """A filesystem backend in a temporary folder."""
    return FilesystemStorage(tmp_path / "store")


def test_round_trip(storage):
    """Saved bytes and record come back unchanged."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    assert storage.record(ref) == RECORD
    with storage.open(ref) as file:
        assert file.read() == b"abc"


def test_files_are_sharded(storage):
    """An image lives two shard levels deep, named by its reference."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    assert (storage.root / ref[:2] / ref[2:4] / ref / "original").is_file()


def test_unknown_reference_is_not_found(storage):
    """Reading or deleting what is not there raises ImageNotFound."""
    ref = str(uuid.uuid4())
    for action in (storage.record, storage.open, storage.delete):
        with pytest.raises(ImageNotFound):
            action(ref)


@pytest.mark.parametrize("ref", [
    "../../etc/passwd", "..", "", "a" * 300, "x\x00y", "/etc/passwd",
    str(uuid.uuid4()).upper(), "{" + str(uuid.uuid4()) + "}",
])
def test_non_canonical_references_never_reach_the_disk(storage, ref):
    """Anything but a canonical UUID is refused before a path is built."""
    with pytest.raises(ImageNotFound):
        storage.open(ref)


def test_delete_removes_the_image(storage):
    """After delete, the image is not found."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    storage.delete(ref)
    with pytest.raises(ImageNotFound):
        storage.record(ref)


class FailingStream(io.RawIOBase):
    """A stream that breaks after some bytes, like a dropped connection."""

    def __init__(self):
        self.sent = False

    def read(self, size=-1):
        if self.sent:
            raise OSError("connection reset")
        self.sent = True
        return b"partial"


def test_failed_write_leaves_nothing_visible(storage):
    """A write that fails midway publishes nothing and leaves no staging files."""
    ref = str(uuid.uuid4())
    with pytest.raises(OSError):
        storage.save(ref, FailingStream(), RECORD)
    with pytest.raises(ImageNotFound):
        storage.record(ref)
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
