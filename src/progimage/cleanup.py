"""``progimage gc``: remove what failures left behind in the storage and caches.

Run on a machine with the service's settings (``PROGIMAGE_*``, ``AWS_*``): it removes
the originals a failed batch could not delete (named in its log line), aborts stale
multipart uploads of originals (S3), removes the variants whose original is gone
(the local cache and the shared bucket) and abandoned temporary files.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from .config import Settings
from .exceptions import ImageNotFound
from .storage import Storage, make_storage
from .storage.s3 import S3Storage
from .variants import ABANDONED_AFTER, VariantCache, make_cache


@dataclass
class Cleanup:
    """What ``collect`` removed."""

    #: Originals deleted on request (with their variants).
    originals: list[str] = field(default_factory=list)
    #: Images whose variants were removed because the original is gone.
    orphaned_variants: list[str] = field(default_factory=list)
    #: Keys of the multipart uploads aborted.
    aborted_uploads: list[str] = field(default_factory=list)
    #: Temporary files and purged folders removed from the local cache.
    temporary_files: int = 0


def collect(
    settings: Settings, refs: Iterable[str] = (), older_than: float = ABANDONED_AFTER
) -> Cleanup:
    """Clean the storage and caches of ``settings``; ``refs`` are originals to delete
    (those a failed batch left); what is older than ``older_than`` seconds counts as
    abandoned.

    :raises SettingsError: the settings cannot be used.
    :raises StorageUnavailable: the store cannot be reached.
    """
    storage = make_storage(settings.storage, settings.s3_endpoint)
    cache = make_cache(settings)
    done = Cleanup()
    for ref in refs:
        try:
            storage.delete(ref)
        except ImageNotFound:
            continue
        if cache is not None:
            cache.purge(ref)
        done.originals.append(ref)
    if isinstance(storage, S3Storage):
        done.aborted_uploads = storage.abort_stale_uploads(older_than)
    if cache is not None:
        done.orphaned_variants = _remove_orphans(storage, cache)
        done.temporary_files = cache.remove_abandoned(older_than)
    return done


def _remove_orphans(storage: Storage, cache: VariantCache) -> list[str]:
    """Purge the variants, here and in the shared tier, of images that are gone."""
    refs = set(cache.refs()) | set(cache.shared.refs() if cache.shared else ())
    orphans = []
    for ref in sorted(refs):
        try:
            storage.record(ref)
        except ImageNotFound:
            cache.purge(ref)
            orphans.append(ref)
    return orphans
