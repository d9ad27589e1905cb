"""One behaviour suite for every storage backend: filesystem, and S3 over HTTP."""

import io
import os
import uuid

import pytest

from progimage.exceptions import ImageNotFound, StoredImageCorrupt
from progimage.storage import make_storage
from storage_samples import RECORD, FailingStream


@pytest.fixture(name="storage", params=["filesystem", "s3"])
def _storage(request, tmp_path):
    """Each backend, empty, through the same factory the app uses."""
    if request.param == "filesystem":
        return make_storage(str(tmp_path / "store"))
    bucket = request.getfixturevalue("s3_bucket")
    return make_storage(f"s3://{bucket}/tenant/images")


def test_round_trip(storage):
    """Saved bytes and record come back unchanged."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    assert storage.record(ref) == RECORD
    with storage.open(ref) as file:
        assert file.read() == b"abc"


@pytest.mark.parametrize("span, expected", [
    ((0, 1), b"a"), ((2, 5), b"cde"), ((5, 6), b"f"), ((0, 6), b"abcdef"),
])
def test_a_span_reads_only_those_bytes(storage, span, expected):
    """``open(ref, span)`` gives the bytes from start up to stop, and no more."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abcdef"), RECORD)
    with storage.open(ref, span) as file:
        assert file.read() == expected
        assert file.read() == b""


def test_large_original_round_trips(storage):
    """An original larger than one upload part (8 MiB) comes back byte for byte."""
    data = os.urandom(9 * 1024 * 1024)
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(data), RECORD)
    with storage.open(ref) as file:
        assert file.read() == data


def test_images_are_independent(storage):
    """Two references keep their own bytes, and deleting one keeps the other."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    storage.save(first, io.BytesIO(b"first"), RECORD)
    storage.save(second, io.BytesIO(b"second"), RECORD)
    storage.delete(first)
    with storage.open(second) as file:
        assert file.read() == b"second"


def test_record_that_disagrees_with_its_bytes_is_refused(storage):
    """A record whose size is not the size of the stored bytes is never believed,
    and the image can still be deleted."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"four"), RECORD)  # RECORD says 3 bytes
    with pytest.raises(StoredImageCorrupt, match="fails its integrity check"):
        storage.record(ref)
    storage.delete(ref)
    with pytest.raises(ImageNotFound):
        storage.record(ref)


@pytest.mark.parametrize("action", ["record", "open", "delete"])
def test_unknown_reference_is_not_found(storage, action):
    """Reading or deleting what is not there raises ImageNotFound."""
    with pytest.raises(ImageNotFound):
        getattr(storage, action)(str(uuid.uuid4()))


@pytest.mark.parametrize("action, ref", [
    ("record", "../../etc/passwd"), ("open", ".."), ("delete", ""),
    ("record", "a" * 300), ("open", "x\x00y"), ("delete", "/etc/passwd"),
    # Fixed, not drawn: pytest-xdist needs the same test ids in every worker.
    ("record", "3F1C2B7E-9D4A-4C1E-8B2F-6A5D7E8F9012"),
    ("open", "{3f1c2b7e-9d4a-4c1e-8b2f-6a5d7e8f9012}"),
])
def test_non_canonical_references_are_refused(storage, action, ref):
    """Anything but a canonical UUID is not found, whatever the backend."""
    with pytest.raises(ImageNotFound):
        getattr(storage, action)(ref)


def test_delete_removes_the_image(storage):
    """After delete, the image is not found, and deleting again says so."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    storage.delete(ref)
    with pytest.raises(ImageNotFound):
        storage.record(ref)
    with pytest.raises(ImageNotFound):
        storage.delete(ref)


def test_failed_write_leaves_nothing_visible(storage):
    """A write whose source breaks midway publishes nothing."""
    ref = str(uuid.uuid4())
    with pytest.raises(OSError, match="connection reset"):
        storage.save(ref, FailingStream(), RECORD)
    with pytest.raises(ImageNotFound):
        storage.record(ref)
    with pytest.raises(ImageNotFound):
        storage.open(ref)


def test_check_passes_on_a_working_store(storage):
    """A reachable, writable store passes the readiness check."""
    assert storage.check() is None
