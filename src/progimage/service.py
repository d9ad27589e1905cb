"""The service's operations, free of HTTP: store an upload, convert a stored image."""

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO

from . import imaging
from .config import Settings
from .formats import FormatRegistry, ImageFormat
from .pool import ConverterPool
from .storage import ImageRecord, Storage


@dataclass(frozen=True)
class ImageService:
    """One per app: the settings, the storage backend and the format registry."""

    settings: Settings
    storage: Storage
    formats: FormatRegistry
    #: Converter processes, started on first use (see pool.py for why processes).
    converters: ConverterPool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        settings = self.settings
        pool = ConverterPool(settings.convert_workers, settings.convert_timeout)
        object.__setattr__(self, "converters", pool)

    def store(self, upload: BinaryIO) -> str:
        """Check that ``upload`` is a readable image, store it and return its reference.

        :raises UnsupportedImage: the upload is not an image Pillow can read.
        :raises ImageTooLarge: the image is above the pixel limit.
        """
        info = imaging.inspect(upload, self.formats, self.settings.max_pixels)
        digest = hashlib.file_digest(upload, "sha256").hexdigest()
        size = upload.tell()
        upload.seek(0)
        record = ImageRecord(
            format=info.format.name,
            mime=info.format.mime,
            width=info.width,
            height=info.height,
            frames=info.frames,
            mode=info.mode,
            size=size,
            sha256=digest,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        ref = str(uuid.uuid4())
        self.storage.save(ref, upload, record)
        return ref

    def convert(self, ref: str, target: ImageFormat) -> bytes:
        """The stored image ``ref`` encoded as ``target``.

        :raises ImageNotFound: nothing is stored under ``ref``.
        :raises ConversionFailed: the image cannot be encoded in that format.
        :raises ConversionTimedOut: the conversion ran past the time limit.
        """
        with self.storage.open(ref) as original:
            data = original.read()
        return self.converters.convert(
            data, target, self.formats, self.settings.max_pixels
        )

    def close(self) -> None:
        """Release the converter processes (idle ones go to the next app)."""
        self.converters.close()
