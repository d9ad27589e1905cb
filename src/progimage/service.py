"""The service's operations, free of HTTP: store an upload, convert a stored image."""

import hashlib
import io
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from . import converter, encoding, imaging
from .config import Settings
from .formats import FormatRegistry, ImageFormat
from .storage import ImageRecord, Storage
from .variants import VariantCache, variant_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageService:
    """One per app: the settings, the storage backend and the format registry."""

    settings: Settings
    storage: Storage
    formats: FormatRegistry
    #: Converted variants kept on disk; None converts on every request.
    cache: VariantCache | None = None

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
        """
        started = time.perf_counter()
        with self.storage.open(ref) as original:
            data = converter.convert(
                original,
                target,
                self.formats,
                self.settings.max_pixels,
                self._encoder(target),
            )
        log.info(
            "converted %s to %s in %.0f ms",
            ref, target.name, (time.perf_counter() - started) * 1000,
        )
        return data

    def variant_key(self, target: ImageFormat) -> str:
        """What identifies the conversion of any image to ``target`` (cache, ETag)."""
        return variant_key(target.name, self._encoder(target))

    def variant(self, ref: str, target: ImageFormat) -> BinaryIO:
        """The stored image ``ref`` as ``target``, from the cache or converted once.

        Concurrent first requests for one variant wait for a single conversion.

        :raises ImageNotFound: nothing is stored under ``ref``.
        :raises ConversionFailed: the image cannot be encoded in that format.
        """
        if self.cache is None:
            return io.BytesIO(self.convert(ref, target))
        key = self.variant_key(target)
        cached = self.cache.open(ref, key)
        if cached is not None:
            return cached
        with self.cache.lock(ref, key):
            cached = self.cache.open(ref, key)
            if cached is not None:
                return cached
            data = self.convert(ref, target)
            self.cache.put(ref, key, data)
        return io.BytesIO(data)

    def internal_path(self, ref: str) -> str | None:
        """``<ab>/<cd>/<ref>/original``: where the original lies under the storage
        folder, for ``X-Accel-Redirect``; None if the storage has no local files.

        :raises ImageNotFound: nothing is stored under ``ref``.
        """
        root = getattr(self.storage, "root", None)
        if root is None:
            return None
        with self.storage.open(ref) as file:
            return Path(file.name).relative_to(root).as_posix()

    def delete(self, ref: str) -> None:
        """Delete the original and every cached variant of it.

        :raises ImageNotFound: nothing is stored under ``ref``.
        """
        self.storage.delete(ref)
        if self.cache is not None:
            self.cache.purge(ref)

    def _encoder(self, target: ImageFormat) -> dict[str, object]:
        return encoding.encoder_params(self.settings).get(target.name, {})
