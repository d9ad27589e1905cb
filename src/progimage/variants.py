"""The variant cache: converted images kept on local disk, bounded, LRU evicted.

A variant is the file ``<folder>/<ab>/<ref>/<digest>`` where ``digest`` hashes the
variant key (target format plus normalised processing options). Files are written
under a temporary name and renamed into place, so readers see whole files only. Each
hit refreshes the file's mtime (at most once a minute), which orders eviction.

The running total of cached bytes lives in ``<folder>/.size``, updated under an
exclusive ``flock`` by every process that adds or removes a variant; when it passes
``max_bytes`` the oldest variants are removed until the cache is down to 90% of it.
Conversions of one key are serialised across processes by ``flock`` on one of a fixed
set of lock files (hashed from the key), so concurrent first requests convert once;
waiting for that lock counts toward the conversion's time limit.

Behind the local folder there may be a shared tier, a bucket that every instance
reads and writes: a local miss looks there before converting, and a conversion is
stored in both. Local copies keep serving with ``sendfile``; the bucket spares the
other instances the conversion.
"""

import contextlib
import fcntl
import functools
import hashlib
import io
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol

from .admission import remaining
from .config import Settings, SettingsError
from .exceptions import ConversionTimedOut
from .storage import make_shared_variants
from .storage.filesystem import INCOMING

LOCK_STRIPES = 256
# Evicting down to a low-water mark makes the scan of the cache folder a rare event.
LOW_WATER = 0.9
# A hit rewrites the mtime only when it is older than this, sparing metadata writes.
TOUCH_INTERVAL = 60.0
# Seconds between two tries of a held variant lock (flock itself cannot time out).
LOCK_POLL = 0.02
# Temporary files older than this belong to a crashed writer and are removed.
ABANDONED_AFTER = 3600.0
LOCKS = ".locks"
SIZE = ".size"
TRASH = ".trash"
# The default cache folder when originals are in S3, which has no local folder.
S3_CACHE_DIR = os.path.join(tempfile.gettempdir(), "progimage-cache")
# PROGIMAGE_CACHE_BUCKET's value for keeping variants on local disk only.
OFF = "off"
# Digits of the total in the size file, written in place: rewriting bytes the file
# already has needs no new disk block, so the total stays right on a full disk.
SIZE_DIGITS = 20
# Variant keys whose digests are kept per process (each read hashes its key twice).
DIGESTS_KEPT = 4096

log = logging.getLogger(__name__)


def variant_key(
    format_name: str, encoder: Mapping[str, object], options_key: str = ""
) -> str:
    """The cache key of a conversion: target format (``ImageFormat.variant_name``,
    the Netpbm subtype included), encoder settings and options.

    Encoder settings are part of it so that changing them never serves stale files.
    """
    settings = ",".join(f"{name}={value}" for name, value in sorted(encoder.items()))
    return f"{format_name}|{settings}|{options_key}"


def variant_tag(sha256: str, key: str) -> str:
    """A strong ETag for a variant: the original's content hash and the key."""
    return f"{sha256}.{_digest(key)[:16]}"


class SharedVariants(Protocol):
    """Variants kept where every instance finds them, by image and variant name."""

    def get(self, ref: str, name: str) -> bytes | None:
        """The variant's bytes, or None when it is not there (or unreadable)."""

    def put(self, ref: str, name: str, data: bytes) -> None:
        """Keep a variant, whole or not at all."""

    def purge(self, ref: str) -> None:
        """Remove every variant of ``ref``."""

    def refs(self) -> list[str]:
        """The references that have variants there."""


class VariantCache:
    """Converted images on the local filesystem, at most ``max_bytes`` of them, in
    front of an optional ``shared`` tier."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        max_bytes: int,
        shared: SharedVariants | None = None,
        write_failed: Callable[[], object] = lambda: None,
    ) -> None:
        """Use (or create) the cache in ``folder``; ``write_failed`` is called for
        each variant that could not be kept (a full or read-only disk).

        :raises SettingsError: ``folder`` or one of its parents is not a folder.
        """
        self.folder = Path(folder).resolve()
        self._root = str(self.folder)
        self.max_bytes = max_bytes
        self.shared = shared
        self._write_failed = write_failed
        try:
            for name in (LOCKS, TRASH):
                (self.folder / name).mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise SettingsError(
                f"PROGIMAGE_CACHE_DIR={str(folder)!r} is not a folder "
                "(a file is in the way)"
            ) from None
        _remove_old(self.folder / TRASH, ABANDONED_AFTER)
        with self._size_locked() as size:
            size.write(self._recount())

    def path(self, ref: str, key: str) -> Path:
        """Where the variant ``key`` of image ``ref`` is (or would be) stored."""
        return Path(self._location(ref, key))

    def _location(self, ref: str, key: str) -> str:
        """``path`` as a string: every cached read opens one, and joining strings
        costs a tenth of building a ``Path``."""
        return os.path.join(self._root, ref[:2], ref, _digest(key))

    def open(self, ref: str, key: str) -> BinaryIO | None:
        """The cached variant opened for reading, or None if it is not cached.

        A variant found only in the shared tier is copied to the local folder.
        """
        file = self.open_local(ref, key)
        if file is not None or self.shared is None:
            return file
        data = self.shared.get(ref, _digest(key))
        if data is None:
            return None
        self._keep(ref, key, data)
        return self.open_local(ref, key) or io.BytesIO(data)

    def open_local(self, ref: str, key: str) -> BinaryIO | None:
        """The variant from the local folder only, or None if it is not there."""
        try:
            file = open(self._location(ref, key), "rb")
        except (FileNotFoundError, NotADirectoryError):
            return None
        if time.time() - os.fstat(file.fileno()).st_mtime > TOUCH_INTERVAL:
            # On a read-only disk the variant is served all the same.
            with contextlib.suppress(OSError):
                os.utime(file.fileno())
        return file

    @contextlib.contextmanager
    def lock(self, ref: str, key: str, deadline: float) -> Iterator[None]:
        """Hold the conversion lock of one variant, across threads and processes,
        taken by ``deadline`` (a ``time.monotonic()`` value).

        :raises ConversionTimedOut: another holder kept it past the deadline.
        """
        stripe = int(_digest(f"{ref}/{key}")[:8], 16) % LOCK_STRIPES
        try:
            file: BinaryIO | None = open(self.folder / LOCKS / f"{stripe:03d}", "ab")
        except OSError as error:
            # A read-only cache cannot keep the result either: convert unserialised.
            log.warning("variant lock %03d unavailable: %s", stripe, error)
            file = None
        # Closing the file releases the lock.
        with file or contextlib.nullcontext():
            if file is not None:
                _lock_by(file, deadline)
            yield

    def put(self, ref: str, key: str, data: bytes) -> None:
        """Store a variant, locally and in the shared tier."""
        self._keep(ref, key, data)
        if self.shared is not None:
            self.shared.put(ref, _digest(key), data)

    def _keep(self, ref: str, key: str, data: bytes) -> None:
        """Store a variant locally and atomically; one larger than the whole cache is
        skipped. A failed write (full or read-only disk) keeps nothing, and is logged
        and counted but never raised: the variant is answered all the same."""
        if not 0 < len(data) <= self.max_bytes:
            return
        path = self.path(ref, key)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except OSError as error:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            log.warning("variant of %s not cached: %s", ref, error)
            self._write_failed()
            return
        self._account(len(data))

    def purge(self, ref: str) -> None:
        """Remove every variant of ``ref`` (after its original is deleted)."""
        if self.shared is not None:
            self.shared.purge(ref)
        doomed = self.folder / TRASH / uuid.uuid4().hex
        try:
            os.rename(self.folder / ref[:2] / ref, doomed)
        except (FileNotFoundError, NotADirectoryError):
            return
        freed = sum(
            entry.stat().st_size for entry in doomed.iterdir() if entry.name[0] != "."
        )
        shutil.rmtree(doomed, ignore_errors=True)
        self._account(-freed)

    def refs(self) -> list[str]:
        """The references that have a folder of variants here."""
        return [path.name for path in self.folder.glob("[0-9a-f][0-9a-f]/*")]

    def remove_abandoned(self, age: float) -> int:
        """Remove temporary files and purged folders older than ``age`` seconds (a
        crashed writer's); how many were removed."""
        cutoff = time.time() - age
        doomed = [
            path for path in (*self.folder.glob("[0-9a-f][0-9a-f]/*/.*"),
                              *(self.folder / TRASH).iterdir())
            if path.lstat().st_ctime < cutoff
        ]
        for path in doomed:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return len(doomed)

    def _account(self, delta: int) -> None:
        """Add ``delta`` to the shared total; evict when the cache is over its bound."""
        with self._size_locked() as size:
            total = size.read() + delta
            if total > self.max_bytes:
                total = self._evict(int(self.max_bytes * LOW_WATER))
            size.write(max(total, 0))

    @contextlib.contextmanager
    def _size_locked(self) -> Iterator["_Counter"]:
        # Not "a+b": appends would ignore the seek that rewrites the total in place.
        descriptor = os.open(self.folder / SIZE, os.O_RDWR | os.O_CREAT, 0o644)
        with open(descriptor, "r+b") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            try:
                yield _Counter(file)
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)

    def _recount(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _evict(self, target: int) -> int:
        """Remove least recently used variants until at most ``target`` bytes remain."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= target:
                break
            path.unlink(missing_ok=True)
            total -= size
        return total

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every cached variant; abandoned temporaries go."""
        entries = []
        now = time.time()
        for path in self.folder.glob("[0-9a-f][0-9a-f]/*/*"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # evicted or purged meanwhile
            if not path.name.startswith("."):
                entries.append((stat.st_mtime, stat.st_size, path))
            elif now - stat.st_mtime > ABANDONED_AFTER:
                path.unlink(missing_ok=True)
        return entries


class _Counter:
    """The total held in the locked ``.size`` file."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def read(self) -> int:
        self._file.seek(0)
        return int(self._file.read().strip() or 0)

    def write(self, total: int) -> None:
        # In place and never shorter, so never truncated to nothing by a failure.
        self._file.seek(0)
        self._file.write(f"{total:0{SIZE_DIGITS}d}".encode())
        self._file.flush()


def _remove_old(folder: Path, age: float) -> None:
    """Remove what crashed purges left in ``folder`` over ``age`` seconds ago."""
    for entry in folder.iterdir():
        if time.time() - entry.stat().st_ctime > age:
            shutil.rmtree(entry, ignore_errors=True)


def _lock_by(file: BinaryIO, deadline: float) -> None:
    """``flock`` the file exclusively, polling until ``deadline`` at the latest.

    :raises ConversionTimedOut: it stayed locked until the deadline.
    """
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = remaining(deadline)
            if not left:
                raise ConversionTimedOut(
                    "another request's conversion of this variant ran until the "
                    "time limit; try again later"
                ) from None
            time.sleep(min(LOCK_POLL, left))


@functools.lru_cache(maxsize=DIGESTS_KEPT)
def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def make_cache(
    settings: Settings, write_failed: Callable[[], object] = lambda: None
) -> VariantCache | None:
    """The cache in ``PROGIMAGE_CACHE_DIR``; by default ``.variants`` in the storage
    folder, or ``progimage-cache`` in the temporary folder (``$TMPDIR``, ``/tmp``)
    when originals are in S3. Its shared tier is ``PROGIMAGE_CACHE_BUCKET``, by
    default the storage's bucket. None when ``PROGIMAGE_CACHE_MAX_BYTES`` is 0.

    :raises SettingsError: the cache folder is not a folder, or holds originals.
    """
    if settings.cache_max_bytes == 0:
        return None
    in_s3 = settings.storage.startswith("s3://")
    folder = settings.cache_dir or (
        S3_CACHE_DIR if in_s3 else os.path.join(settings.storage, ".variants")
    )
    _check_apart(Path(folder), None if in_s3 else Path(settings.storage))
    bucket = settings.cache_bucket or (settings.storage if in_s3 else OFF)
    shared = None if bucket == OFF else make_shared_variants(
        bucket, settings.s3_endpoint
    )
    return VariantCache(folder, settings.cache_max_bytes, shared, write_failed)


def _check_apart(folder: Path, storage: Path | None) -> None:
    """Refuse a cache folder that holds originals: eviction and purges would remove
    them, and their folders would break the cache's scans.

    :raises SettingsError: ``folder`` is a store's folder, or lies among its
        originals.
    """
    folder = folder.resolve()
    holds_originals = (folder / INCOMING).is_dir()
    if storage is not None and folder.is_relative_to(storage.resolve()):
        inside = folder.relative_to(storage.resolve()).parts
        # The store keeps its dot-named folders (the default ``.variants``) apart
        # from the shards of originals.
        holds_originals |= (
            not inside or not inside[0].startswith(".") or inside[0] == INCOMING
        )
    if holds_originals:
        raise SettingsError(
            f"PROGIMAGE_CACHE_DIR={str(folder)!r} holds originals; use a folder of "
            "its own (or leave it empty for '.variants' in the storage folder)"
        )
