"""Originals on the local filesystem, one folder per image, written atomically.

An image is the folder ``<root>/<ab>/<cd>/<ref>/`` (``ab`` and ``cd`` are the first
hex digits of the reference, so no folder holds more than 256 shards) holding
``original`` and ``record.json``. Both files, and then their folder, are written
and fsynced in a private folder under ``<root>/.incoming/`` which is then renamed
into place (shard folders it creates fsynced in their parents, the new entry in its
shard): a reader sees the whole image or nothing, and an answered upload survives
a power cut. A crash leaves only a staging folder, named after the
process that wrote it; it is removed at the next start-up once that process is gone.
"""

import contextlib
import errno
import io
import os
import shutil
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO, cast

from ..config import SettingsError
from ..exceptions import ImageNotFound, StorageFull, StorageUnavailable
from ..references import check_reference
from . import ImageRecord, verified_record

CHUNK_SIZE = 1024 * 1024
# Records kept per process (a few hundred bytes each).
RECORDS_KEPT = 10_000
INCOMING = ".incoming"
ORIGINAL = "original"
RECORD = "record.json"
# Where the original's size is in a kept record's validator (see ``_identify``).
SIZE = 2
# What the kernel answers when the disk, the quota or the file size limit is reached.
FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# What it answers when the folder is mounted read-only or its permissions changed.
READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class FilesystemStorage:
    """The default backend: a folder tree under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        """Use (or create) the folder ``root``.

        :raises SettingsError: ``root`` or one of its parents is not a folder.
        """
        self.root = Path(root).resolve()
        # ref -> (the original's and record's identities and times, the record);
        # see ``record``.
        self._records: OrderedDict[str, tuple[tuple[int, ...], ImageRecord]] = (
            OrderedDict()
        )
        self._root = str(self.root)
        self._incoming = self.root / INCOMING
        try:
            self._incoming.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise SettingsError(
                f"PROGIMAGE_STORAGE={str(root)!r} is not a folder "
                "(a file is in the way)"
            ) from None
        _remove_abandoned(self._incoming)

    def save(self, ref: str, data: BinaryIO, record: ImageRecord) -> None:
        """Write the original and its record, then publish them with one rename.

        :raises StorageFull: no space, quota or file size left; nothing is kept.
        :raises StorageUnavailable: the folder is read-only; nothing is kept.
        """
        final = self._folder(ref)
        staging = self._incoming / f"{os.getpid()}.{uuid.uuid4().hex}"
        try:
            staging.mkdir()
            _write_synced(staging / ORIGINAL, data)
            _write_synced(staging / RECORD, io.BytesIO(record.to_json()))
            _sync_folder(str(staging))  # its entries for the two files
            _make_synced_folders(os.path.dirname(final))
            os.rename(staging, final)
        except BaseException as error:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(error, OSError):
                _refuse_unwritable(error)
            raise
        _sync_folder(os.path.dirname(final))

    def record(self, ref: str) -> ImageRecord:
        """The record saved beside the original, checked against its size.

        Kept per process while the original's file and the record's stay the same
        ones (two stats per read instead of reading and parsing the record): a
        ``DELETE`` through any process or instance removes them, a restore writes
        new ones, and ``update_record`` (in any process) renames a new record in.
        The folder's links are checked when a record is read, not at each use of
        a kept one: the same two files (device and inode) are the files checked.
        """
        known = self._records.get(ref)
        if known is not None:
            with contextlib.suppress(OSError):
                if _identify(self._path(ref)) == known[0]:
                    return known[1]
        folder = self._folder(ref)
        try:
            validator = _identify(folder)
            with open(os.path.join(folder, RECORD), "rb") as file:
                data = file.read()
        except (FileNotFoundError, NotADirectoryError):
            raise ImageNotFound(f"no image is stored under {ref}") from None
        record = verified_record(ref, data, validator[SIZE])
        self._records[ref] = (validator, record)
        if len(self._records) > RECORDS_KEPT:
            with contextlib.suppress(KeyError):  # another thread evicted it first
                self._records.popitem(last=False)
        return record

    def update_record(self, ref: str, record: ImageRecord) -> None:
        """Write the new record beside the old one, then replace it with a rename;
        every process of the service reads the new one from then on (``record``
        keeps records by the record file's stat too).

        :raises ImageNotFound: nothing is stored under ``ref``.
        :raises StorageFull: no space left; the old record stays.
        :raises StorageUnavailable: the folder is read-only; the old record stays.
        """
        self.record(ref)
        folder = Path(self._folder(ref))
        staging = folder / f".{RECORD}.{uuid.uuid4().hex}"
        try:
            _write_synced(staging, io.BytesIO(record.to_json()))
            os.replace(staging, folder / RECORD)
        except OSError as error:
            staging.unlink(missing_ok=True)
            _refuse_unwritable(error)
            raise
        _sync_folder(str(folder))

    def open(self, ref: str, span: tuple[int, int] | None = None) -> BinaryIO:
        """The original file, opened for reading; with ``span``, only those bytes."""
        file = self._open_known(ref)
        if file is None:
            try:
                file = open(os.path.join(self._folder(ref), ORIGINAL), "rb")
            except (FileNotFoundError, NotADirectoryError):
                raise ImageNotFound(f"no image is stored under {ref}") from None
        if span is None:
            return file
        return cast(BinaryIO, io.BufferedReader(_Span(file, *span)))

    def local_path(self, ref: str) -> str | None:
        """The original's path under ``root``, ``/``-separated.

        :raises ImageNotFound: nothing is stored under ``ref``.
        """
        with self.open(ref) as file:
            return Path(file.name).relative_to(self.root).as_posix()

    def delete(self, ref: str) -> None:
        """Unpublish the folder with one rename, then remove it at leisure.

        :raises StorageUnavailable: the folder is read-only.
        """
        doomed = self._incoming / f"{os.getpid()}.{uuid.uuid4().hex}"
        try:
            os.rename(self._folder(ref), doomed)
        except (FileNotFoundError, NotADirectoryError):
            raise ImageNotFound(f"no image is stored under {ref}") from None
        except OSError as error:
            _refuse_unwritable(error)
            raise
        shutil.rmtree(doomed, ignore_errors=True)

    def check(self) -> None:
        """Write and remove a probe file where uploads are staged."""
        probe = self._incoming / f"{os.getpid()}.{uuid.uuid4().hex}.probe"
        try:
            _write_synced(probe, io.BytesIO(b"probe"))
            probe.unlink()
        except OSError as error:
            raise StorageUnavailable(
                f"the storage folder is not writable ({error.strerror or error})"
            ) from None

    def _open_known(self, ref: str) -> BinaryIO | None:
        """The original opened without checking its folder's links, if it is the
        very file (device and inode) of the record kept for ``ref``; else None."""
        known = self._records.get(ref)
        if known is None:
            return None
        try:
            file = open(os.path.join(self._path(ref), ORIGINAL), "rb")
        except OSError:
            return None
        status = os.fstat(file.fileno())
        if (status.st_dev, status.st_ino) == known[0][:2]:
            return file
        file.close()
        return None

    def _path(self, ref: str) -> str:
        """The folder for a reference, links unchecked (see ``_folder``).

        :raises ImageNotFound: ``ref`` is not a canonical UUID string.
        """
        ref = check_reference(ref)
        return os.path.join(self._root, ref[:2], ref[2:4], ref)

    def _folder(self, ref: str) -> str:
        """The folder for a reference; refuses anything but a canonical UUID.

        Plain strings, not ``Path``: every read of an image comes through here.

        :raises ImageNotFound: ``ref`` is not a canonical UUID string, or its
            folder goes through a symlink (which could lead outside the store).
        """
        ref = check_reference(ref)
        shard = os.path.join(self._root, ref[:2])
        subshard = os.path.join(shard, ref[2:4])
        folder = os.path.join(subshard, ref)
        # The root is resolved: only the three levels below it can be links.
        if any(map(os.path.islink, (shard, subshard, folder))):
            raise ImageNotFound(f"no image is stored under {ref}")
        return folder


def _identify(folder: str) -> tuple[int, ...]:
    """Device, inode, size and times of the original, then of the record, in
    ``folder``: what tells a kept record still holds.

    :raises FileNotFoundError: a file is missing.
    :raises NotADirectoryError: a level of ``folder`` is a file.
    """
    return tuple(
        value for name in (ORIGINAL, RECORD)
        for status in (os.stat(os.path.join(folder, name)),)
        for value in (status.st_dev, status.st_ino, status.st_size,
                      status.st_mtime_ns, status.st_ctime_ns)
    )


class _Span(io.RawIOBase):
    """The bytes from ``start`` up to ``stop`` of an open file, which it closes."""

    def __init__(self, file: io.BufferedReader, start: int, stop: int) -> None:
        super().__init__()
        self._file = file
        self._left = stop - start
        file.seek(start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = self._file.readinto(memoryview(buffer)[: self._left])
        self._left -= count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def _refuse_unwritable(error: OSError) -> None:
    """Turn a full or read-only folder into the domain's errors; others pass.

    :raises StorageFull: no space, quota or file size left.
    :raises StorageUnavailable: the folder cannot be written.
    """
    if error.errno in FULL:
        raise StorageFull("the image store is full; try again later") from None
    if error.errno in READ_ONLY:
        raise StorageUnavailable(
            f"the image store cannot be written ({error.strerror}); try again later"
        ) from None


def _remove_abandoned(incoming: Path) -> None:
    """Delete staging folders whose writing process is gone (crashed or killed)."""
    for entry in incoming.iterdir():
        pid = entry.name.partition(".")[0]
        if not (pid.isdigit() and _running(int(pid))):
            shutil.rmtree(entry, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process whose parent died too may stay a zombie (if PID 1 does not
    reap it): it exists for ``kill(pid, 0)`` but will never write again."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc here: trust kill()
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _write_synced(path: Path, data: BinaryIO) -> None:
    with open(path, "xb") as target:
        while chunk := data.read(CHUNK_SIZE):
            target.write(chunk)
        target.flush()
        os.fsync(target.fileno())


def _make_synced_folders(path: str) -> None:
    """Create ``path`` and the missing folders above it, each entry fsynced in its
    parent: a new shard folder that a crash forgets would take its images along.
    A folder another writer is creating at the same moment is fsynced here too."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        _sync_folder(os.path.dirname(folder))


def _sync_folder(path: str) -> None:
    """Make a rename durable: fsync the folder that holds the new entry."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
