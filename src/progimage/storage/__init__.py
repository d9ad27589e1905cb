"""Where originals live: a small backend interface and the way to pick a backend."""

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ..exceptions import ImageNotFound, StorageUnavailable, StoredImageCorrupt

if TYPE_CHECKING:
    from .s3 import S3Variants

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageRecord:
    """What is known about a stored original, saved beside its bytes."""

    format: str
    mime: str
    width: int
    height: int
    frames: int
    mode: str
    size: int
    sha256: str
    created: str
    #: EXIF orientation (1-8), 1 when absent; older records without it load as 1.
    orientation: int = 1
    #: The image has an alpha channel or a transparent colour.
    has_alpha: bool = False
    #: The URL the image was fetched from; empty for an upload (and older records).
    source_url: str = ""
    #: ``(x, y)`` fractions of width and height that ``fit=cover`` centres on when
    #: a request names no gravity; None: the centre.
    focus: tuple[float, float] | None = None
    #: The eager variants the upload asked for (``thumb.webp,hero``), beyond
    #: PROGIMAGE_EAGER_PRESETS; empty for none (and older records).
    eager: str = ""
    #: The BlurHash and average colour (``#rrggbb``) for a placeholder; empty for
    #: older records and for uploads the check did not decode.
    blurhash: str = ""
    colour: str = ""

    @property
    def upright_width(self) -> int:
        """The width as shown, once the EXIF orientation (5-8 turn it) is applied."""
        return self.height if self.orientation in (5, 6, 7, 8) else self.width

    def to_json(self) -> bytes:
        """The record as stored: UTF-8 JSON."""
        # Its fields are flat values (focus a tuple, written as a JSON array):
        # dataclasses.asdict's deep copy of each was most of the cost.
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return json.dumps(fields, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "ImageRecord":
        """Read a record back; unknown keys from newer versions are ignored, keys
        missing from older versions take their defaults."""
        values = json.loads(data)
        if values.get("focus") is not None:
            values["focus"] = tuple(values["focus"])  # a JSON array
        return cls(**{key: values[key] for key in cls.__dataclass_fields__
                      if key in values})


class Storage(Protocol):
    """A place for originals, addressed by reference (a canonical UUID4 string)."""

    def save(self, ref: str, data: BinaryIO, record: ImageRecord) -> None:
        """Store bytes and record atomically: both appear at once, or neither does."""

    def record(self, ref: str) -> ImageRecord:
        """The record saved with the image, checked against the stored bytes.

        :raises ImageNotFound: nothing is stored under ``ref``.
        :raises StoredImageCorrupt: the record is unreadable or its size is not the
            size of the stored bytes.
        """

    def open(self, ref: str, span: tuple[int, int] | None = None) -> BinaryIO:
        """The original bytes, as a readable binary file; the caller closes it.

        With ``span`` (start, stop), only the bytes from ``start`` up to ``stop``
        (a satisfiable range of the file): a remote store sends no others.

        :raises ImageNotFound: nothing is stored under ``ref``.
        """

    def local_path(self, ref: str) -> str | None:
        """Where the original lies under the storage folder (``<ab>/<cd>/<ref>/
        original``), for ``X-Accel-Redirect``; None if the store has no local files.

        :raises ImageNotFound: nothing is stored under ``ref`` (local files only).
        """

    def update_record(self, ref: str, record: ImageRecord) -> None:
        """Replace the record of a stored image at once; the bytes stay.

        :raises ImageNotFound: nothing is stored under ``ref``.
        :raises StorageUnavailable: the store cannot be written.
        """

    def delete(self, ref: str) -> None:
        """Remove the image; afterwards it is not found.

        :raises ImageNotFound: nothing is stored under ``ref``.
        """

    def check(self) -> None:
        """Prove that the store is reachable and writable, by writing a probe.

        :raises StorageUnavailable: it is not, with the reason.
        """


def verified_record(ref: str, data: bytes, stored_size: int) -> ImageRecord:
    """The record in ``data``, if it reads and describes ``stored_size`` bytes.

    A store damaged or written behind the service's back must not have its bytes
    served under a record that does not describe them.

    :raises StoredImageCorrupt: it does not; the reason goes to the log.
    """
    try:
        record = ImageRecord.from_json(data)
    except (ValueError, TypeError) as error:
        reason = f"its record is unreadable ({error})"
    else:
        if record.size == stored_size:
            return record
        reason = f"its record says {record.size} bytes, the store holds {stored_size}"
    log.error("stored image %s fails its integrity check: %s", ref, reason)
    raise StoredImageCorrupt(
        f"the stored image {ref} fails its integrity check and is not served; "
        "the operator has been told"
    )


def make_storage(location: str, s3_endpoint: str = "") -> Storage:
    """The backend for ``PROGIMAGE_STORAGE``: ``s3://bucket/prefix`` or a folder.

    :raises SettingsError: the S3 location is malformed or its bucket does not exist.
    """
    if location.startswith("s3://"):
        # Imported here so that boto3 is loaded only by deployments that use S3.
        from .s3 import S3Storage

        return S3Storage.from_url(location, endpoint=s3_endpoint or None)
    from .filesystem import FilesystemStorage

    return FilesystemStorage(location)


def make_shared_variants(location: str, s3_endpoint: str = "") -> "S3Variants":
    """The shared tier of the variant cache at ``s3://bucket/prefix``.

    :raises SettingsError: the location is malformed or its bucket does not exist.
    """
    from .s3 import S3Variants

    return S3Variants.from_url(
        location, endpoint=s3_endpoint or None, setting="PROGIMAGE_CACHE_BUCKET"
    )


__all__ = [
    "ImageNotFound", "ImageRecord", "Storage", "StorageUnavailable",
    "StoredImageCorrupt", "make_shared_variants", "make_storage",
    "verified_record",
]
