"""The service's operations, free of HTTP: store an upload, convert a stored image."""

import hashlib
import io
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import BinaryIO, cast

from .config import Settings
from .eager import EagerQueue
from .exceptions import (
    ConversionOverran, ImageNotFound, ImageTooLarge, InvalidOptions, ServiceError,
    StoredImageCorrupt,
)
from .imaging import (
    JPEG_FORMATS, ComputedPlaceholder, ConvertJob, Encoded, FormatRegistry,
    ImageFormat, InspectJob, PlaceholderJob, encoder_params,
)
from .metrics import Metrics
from .negotiation import AUTO, choose
from .options import NO_OPTIONS, ImageOptions, parse
from .pool import ConverterPool
from .presets import PRESET, expand
from .references import new_reference
from .storage import ImageRecord, Storage
from .variants import VariantCache, variant_key, variant_tag

log = logging.getLogger(__name__)
# Beside a ``max_bytes`` variant in the cache: the quality chosen, for X-Quality.
QUALITY_ENTRY = "#quality"


@dataclass(frozen=True)
class Download:
    """What a read of ``<ref>[.<ext>]?<options>`` answers, resolved once."""

    ref: str
    record: ImageRecord
    #: The entity tag of the answer: the original's digest, or the variant's.
    etag: str
    #: The format converted to; None for the original as stored.
    target: ImageFormat | None = None
    options: ImageOptions = NO_OPTIONS
    #: The variant's cache key; empty for the original.
    key: str = ""
    #: The target was chosen from the Accept header (``<ref>.auto``).
    negotiated: bool = False


@dataclass(frozen=True)
class ImageService:
    """One per app: the settings, the storage backend, the format registry, the
    metrics and the variant cache."""

    settings: Settings
    storage: Storage
    formats: FormatRegistry
    #: Where conversions and variant cache hits and misses are counted.
    metrics: Metrics
    #: Converted variants kept on disk; None converts on every request.
    cache: VariantCache | None = None
    #: Converter processes shared with other apps (a test session's); None: the
    #: service makes its own pool and closes it with ``close``.
    pool: ConverterPool | None = field(default=None, repr=False, compare=False)
    #: Converter processes, started on first use (see pool.py for why processes).
    converters: ConverterPool = field(init=False, repr=False, compare=False)
    _encoders: dict[str, dict[str, object]] = field(
        init=False, repr=False, compare=False
    )
    #: Eager variants waiting to be converted after their uploads.
    eager: EagerQueue = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        settings = self.settings
        pool = self.pool or ConverterPool(
            settings.convert_workers, settings.convert_timeout,
            settings.convert_waiting, settings.convert_idle,
        )
        object.__setattr__(self, "converters", pool)
        # Settings are frozen: the encoders' defaults are worked out once per app.
        object.__setattr__(self, "_encoders", encoder_params(settings))
        object.__setattr__(self, "eager", EagerQueue(self.warm))

    def store(self, upload: BinaryIO, source_url: str = "",
              eager: tuple[str, ...] = ()) -> str:
        """Check that ``upload`` is a readable image, store it and return its reference;
        ``source_url`` is where it was fetched from, if it was. Its eager variants
        (PROGIMAGE_EAGER_PRESETS and ``eager``, checked by ``parse_eager``) are
        then queued for conversion.

        :raises UnsupportedImage: the upload is not an image Pillow can read.
        :raises ImageTooLarge: the image is above the pixel limit.
        """
        record = replace(self._examine(upload), source_url=source_url,
                         eager=",".join(eager))
        ref = new_reference()
        self.storage.save(ref, upload, record)
        self.eager.submit(ref, self.eager_variants(record))
        return ref

    def eager_variants(self, record: ImageRecord) -> tuple[str, ...]:
        """The eager variants of an image: the settings' and its upload's."""
        asked = tuple(filter(None, record.eager.split(",")))
        return tuple(dict.fromkeys(self.settings.eager_variants + asked))

    def warm(self, ref: str, spec: str) -> None:
        """Convert the eager variant ``spec`` (``thumb.webp``) of ``ref`` into the
        cache, as its first read would.

        :raises ServiceError: what ``resolve`` and ``variant`` raise.
        """
        download = self._eager_download(ref, spec)
        if download.target is not None:  # else the preset changes nothing
            self.variant(download)[0].close()

    def eager_ready(self, ref: str, record: ImageRecord) -> dict[str, bool]:
        """Each eager variant of ``ref``, and whether it is in the cache now."""
        ready = {}
        for spec in self.eager_variants(record):
            cached = None
            download = self._eager_download(ref, spec, record)
            if self.cache is not None and download.target is not None:
                cached = self.cache.open(ref, download.key)
            ready[spec] = cached is not None or download.target is None
            if cached is not None:
                cached.close()
        return ready

    def _eager_download(self, ref: str, spec: str,
                        record: ImageRecord | None = None) -> Download:
        """What a read of the eager variant ``spec`` of ``ref`` resolves to."""
        name, _, extension = spec.partition(".")
        query = expand({PRESET: [name]}, self.settings.preset_table)
        return self.resolve(ref, extension or None, parse(query), record=record)

    def store_many(self, uploads: Mapping[str, BinaryIO]) -> list[str]:
        """Store a batch: every upload, or none if any one fails; references in order.

        :raises UnsupportedImage: an upload is not an image (named by its key).
        :raises ImageTooLarge: an upload is above the pixel limit (named by its key).
        :raises StorageUnavailable: the store failed; the images stored before are
            deleted again, or logged for ``progimage gc`` if that fails too.
        """
        records = []
        for label, upload in uploads.items():
            try:
                records.append(self._examine(upload))
            except ServiceError as error:
                raise type(error)(f"{label}: {error.detail}") from None
        refs: list[str] = []
        try:
            for upload, record in zip(uploads.values(), records, strict=True):
                refs.append(new_reference())
                self.storage.save(refs[-1], upload, record)
        except BaseException:
            # The failed save too: a connection lost after the upload completed
            # leaves the object stored.
            self._roll_back(refs)
            raise
        return refs

    def _roll_back(self, refs: list[str]) -> None:
        """Delete what a failed batch stored, every one that can be; the others are
        logged, by reference, for ``progimage gc``."""
        left = []
        for ref in refs:
            try:
                self.storage.delete(ref)
            except ImageNotFound:
                continue
            except (ServiceError, OSError) as error:
                log.warning("rollback cannot delete %s: %s", ref, error)
                left.append(ref)
        if left:
            log.error(
                "a failed batch left %d originals; remove them with: progimage gc %s",
                len(left), " ".join(left),
                extra={"fields": {"event": "rollback_incomplete", "refs": left}},
            )

    def info(self, ref: str) -> ImageRecord:
        """What is known about the stored image ``ref``. A JPEG's placeholder,
        which its upload check leaves out above 0.25 MP (it decodes no pixel then),
        is computed on the first read and kept, as the placeholder route does (one
        decode at 1/8 scale); if that fails, the record is answered without one.

        :raises ImageNotFound: nothing is stored under ``ref``.
        """
        record = self.storage.record(ref)
        if record.blurhash or record.format not in JPEG_FORMATS:
            return record
        try:
            return self._computed_placeholder(ref, record)[1]
        except ImageNotFound:
            raise
        except ServiceError as error:
            log.info("no placeholder for %s: %s", ref, error.detail)
            return record

    def placeholder(self, ref: str) -> tuple[bytes, ImageRecord]:
        """The placeholder PNG of ``ref`` (a blur of its colours, ``RENDER_SIDE``
        pixels on its longer side) and its record. Decoded from the record's
        BlurHash; a record without one (older, or an image the upload check did
        not decode) has the converter compute it from the original, once: the
        hash and colour are stored into the record for the next requests.

        :raises ImageNotFound: nothing is stored under ``ref``.
        :raises UnsupportedImage: the image has no placeholder (its mode has no
            colours) or cannot be decoded.
        :raises ImageTooLarge: the image is above the pixel limit.
        :raises ConversionTimedOut: the converters stayed busy.
        """
        record = self.storage.record(ref)
        if record.blurhash:
            job = self._placeholder_job(record)
            return cast(bytes, self.converters.convert(b"", job)), record
        return self._computed_placeholder(ref, record)

    def _placeholder_job(self, record: ImageRecord) -> PlaceholderJob:
        return PlaceholderJob(
            self.formats, self.settings.max_pixels, record.blurhash,
            record.width, record.height, record.orientation,
        )

    def _computed_placeholder(
        self, ref: str, record: ImageRecord
    ) -> tuple[bytes, ImageRecord]:
        """The placeholder PNG of ``ref`` computed from its original, and its record
        with the hash and colour kept."""
        with self.storage.open(ref) as original:
            computed = cast(ComputedPlaceholder, self.converters.convert(
                original, self._placeholder_job(record)))
        return computed.png, self._keep_placeholder(ref, computed)

    def _keep_placeholder(self, ref: str, computed: ComputedPlaceholder) -> ImageRecord:
        """The record of ``ref`` with ``computed``'s hash and colour, stored if the
        store can be written; if not, the placeholder is still answered (and
        computed again next time)."""
        # Read again just before writing: a focus set meanwhile is kept.
        record = self.storage.record(ref)
        record = replace(record, blurhash=computed.blurhash,
                         colour=record.colour or computed.colour)
        try:
            self.storage.update_record(ref, record)
        except ServiceError as error:
            log.warning("the placeholder of %s was not stored: %s", ref, error.detail)
        return record

    def original_format(self, record: ImageRecord) -> ImageFormat:
        """The registry's format of a stored original: what it is served as, never
        the type string stored in its record.

        :raises StoredImageCorrupt: the record names a format unknown here.
        """
        try:
            return self.formats.for_name(record.format)
        except KeyError:
            log.error("a stored record names the unknown format %r", record.format)
            raise StoredImageCorrupt(
                "a stored image names a format this server does not know; "
                "it is not served"
            ) from None

    def resolve(
        self, ref: str, extension: str | None, options: ImageOptions = NO_OPTIONS,
        accept: Iterable[tuple[str, float]] = (), record: ImageRecord | None = None,
    ) -> Download:
        """What a read of ``ref`` as ``extension`` (None: no extension) after
        ``options`` answers: the original, or a variant with its key and ETag.
        Without an extension a variant is in the original's format (PNG if that
        is read-only); as ``auto``, in the best format that the client's Accept
        header (``accept``: media range, q-value) takes. ``record``: the image's
        record, when the caller has read it already.

        :raises ImageNotFound: nothing is stored under ``ref``.
        :raises UnknownFormat: the extension names no writable format (an empty
            one names none).
        :raises StoredImageCorrupt: the record names a format unknown here.
        :raises NotAcceptable: ``auto``, and the client takes none of the formats.
        """
        record = record or self.storage.record(ref)
        negotiated = extension == AUTO
        if negotiated:
            extension = choose(
                record, self.settings.auto_format_order, accept, self.formats
            )
        if extension is None and not options.key():
            return Download(ref, record, record.sha256)
        if extension is None:
            fmt = self.original_format(record)
            extension = fmt.extension if fmt.writable else "png"
        target = self.formats.for_extension(extension)
        options = _with_stored_focus(options, record)
        key = self.variant_key(target, options)
        etag = variant_tag(record.sha256, key)
        return Download(ref, record, etag, target, options, key, negotiated)

    def _examine(self, upload: BinaryIO, wait: bool = True) -> ImageRecord:
        """The record for an upload, checking in a converter process that it is an
        image within limits; ``wait``: for a place among the admitted jobs, else
        refused at once when there is none (as a conversion is).

        :raises UnsupportedImage: the upload is not an image we read.
        :raises ImageTooLarge: above the pixel limit, or too costly to decode: its
            check ran past the time limit.
        :raises ConversionTimedOut: every converter stayed busy.
        """
        # Hashed and sent from the upload's file: the server never holds it whole.
        digest = hashlib.file_digest(upload, "sha256").hexdigest()
        size = upload.tell()
        upload.seek(0)
        job = InspectJob(self.formats, self.settings.max_pixels)
        try:
            info = self.converters.convert(upload, job, wait=wait)
        except ConversionOverran:
            raise ImageTooLarge(
                "the image is too costly to decode: checking it ran past the limit "
                f"of {self.settings.convert_timeout:g} s"
            ) from None
        upload.seek(0)
        return ImageRecord(
            format=info.format.name,
            mime=info.format.mime,
            width=info.width,
            height=info.height,
            frames=info.frames,
            mode=info.mode,
            size=size,
            sha256=digest,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            orientation=info.orientation,
            has_alpha=info.has_alpha,
            blurhash=info.blurhash,
            colour=info.colour,
        )

    def convert(
        self, ref: str, target: ImageFormat, options: ImageOptions = NO_OPTIONS
    ) -> bytes:
        """The stored image ``ref`` after the operations in ``options``, as ``target``.

        :raises ImageNotFound: nothing is stored under ``ref``.
        :raises InvalidOptions: an option does not fit the image, or the mask
            or watermark reference names no stored image.
        :raises ImageTooLarge: the result would be above the pixel limit.
        :raises ConversionFailed: the image cannot be encoded in that format.
        :raises ConversionTimedOut: the conversion ran past the time limit.
        """
        job = self._convert_job(target, options)
        started = time.perf_counter()
        with self.storage.open(ref) as original:
            data = self.converters.convert(original, job)
        log.info(
            "converted %s to %s in %.0f ms",
            ref, target.name, (time.perf_counter() - started) * 1000,
        )
        return data

    def process(
        self, upload: BinaryIO, extension: str, options: ImageOptions = NO_OPTIONS,
        accept: Iterable[tuple[str, float]] = (),
    ) -> tuple[bytes, ImageFormat]:
        """``upload`` after ``options``, as the format of ``extension`` (``auto``:
        the best one ``accept`` takes, as for a stored image); nothing is stored or
        cached. The upload passes the upload checks first.

        :raises UnknownFormat: the extension names no writable format.
        :raises NotAcceptable: ``auto``, and the client takes none of the formats.
        :raises UnsupportedImage: the upload is not an image we read.
        :raises ImageTooLarge: above the pixel limit, before or after processing.
        :raises InvalidOptions: an option does not fit the image.
        :raises ConversionFailed: the image cannot be encoded in that format.
        :raises ConvertersBusy: as many conversions as allowed are in already.
        :raises ConversionTimedOut: a converter stayed busy or ran past the limit.
        """
        if extension != AUTO:
            self.formats.for_extension(extension)  # refused before any decode
        # A conversion request: with no place for its check, 503 at once.
        record = self._examine(upload, wait=False)
        if extension == AUTO:
            extension = choose(
                record, self.settings.auto_format_order, accept, self.formats
            )
        target = self.formats.for_extension(extension)
        job = self._convert_job(target, options)
        with self.metrics.conversion(record.format, target.name):
            return self.converters.convert(upload, job), target

    def variant_key(
        self, target: ImageFormat, options: ImageOptions = NO_OPTIONS
    ) -> str:
        """What identifies the conversion of any image to ``target`` after
        ``options`` (cache, ETag); computed once per request, by ``resolve``."""
        return variant_key(target.variant_name, self._encoder(target), options.key())

    def variant(
        self, download: Download, starting: Callable[[], None] = lambda: None
    ) -> tuple[BinaryIO, int | None]:
        """The variant ``download`` resolved (see ``resolve``), from the cache or
        converted once, and the quality ``max_bytes`` chose for it (else None);
        ``starting`` is called just before a conversion starts (a cache miss), and
        may refuse it by raising.

        Concurrent first requests for one variant wait for a single conversion; the
        wait is admitted and timed as a conversion is, since it holds a thread too.

        :raises ImageNotFound: nothing is stored under ``ref``, or it was deleted
            while it was converted.
        :raises InvalidOptions: an option does not fit the image.
        :raises ImageTooLarge: the result would be above the pixel limit.
        :raises ConversionFailed: the image cannot be encoded in that format, or
            not within ``max_bytes``.
        :raises ConvertersBusy: as many conversions as allowed are in already.
        :raises ConversionTimedOut: the conversion (waiting included) ran past the
            time limit.
        :raises ServiceError: what ``starting`` raises.
        """
        ref, record, options, key = (
            download.ref, download.record, download.options, download.key
        )
        # resolve gave a target: this is a variant, not the original.
        target = cast(ImageFormat, download.target)
        if self.cache is None:
            starting()
            data = self._counted_convert(record, ref, target, options)
            return io.BytesIO(data), chosen_quality(data)
        cached = self._cached(self.cache.open, ref, key, options)
        if cached is None:
            with (
                self.converters.admission.admit() as deadline,
                self.cache.lock(ref, key, deadline),
            ):
                # Whoever held the lock before us on this machine stored it locally;
                # another machine's copy in the bucket was looked for just now.
                cached = self._cached(self.cache.open_local, ref, key, options)
                if cached is None:
                    starting()
                    self.metrics.cache_lookup(hit=False, target=target.name)
                    data = self._counted_convert(record, ref, target, options)
                    quality = chosen_quality(data)
                    if quality is not None:
                        # Before the variant: whoever finds it finds its quality.
                        self.cache.put(ref, key + QUALITY_ENTRY, b"%d" % quality)
                    self.cache.put(ref, key, data)
                    self._drop_if_deleted(self.cache, ref)
                    return io.BytesIO(data), quality
        self.metrics.cache_lookup(hit=True, target=target.name)
        return cached

    def _cached(
        self, opener: Callable[[str, str], BinaryIO | None], ref: str, key: str,
        options: ImageOptions,
    ) -> tuple[BinaryIO, int | None] | None:
        """The cached variant (``opener``: the cache's ``open`` or ``open_local``)
        and, for ``max_bytes``, the quality kept beside it; None if either is
        missing (evicted apart: the variant is converted again)."""
        file = opener(ref, key)
        if file is None or options.max_bytes is None:
            return None if file is None else (file, None)
        entry = opener(ref, key + QUALITY_ENTRY)
        if entry is None:
            file.close()
            return None
        with entry:
            return file, int(entry.read())

    def internal_path(self, ref: str) -> str | None:
        """``<ab>/<cd>/<ref>/original``: where the original lies under the storage
        folder, for ``X-Accel-Redirect``; None if the storage has no local files.

        :raises ImageNotFound: nothing is stored under ``ref``.
        """
        return self.storage.local_path(ref)

    def delete(self, ref: str) -> None:
        """Remove the image ``ref``; every result derived from it goes with it (the
        cached variants included).

        :raises ImageNotFound: nothing is stored under ``ref``.
        """
        self.storage.delete(ref)
        if self.cache is not None:
            self.cache.purge(ref)

    def set_focus(self, ref: str, focus: tuple[float, float]) -> None:
        """Store the point ``fit=cover`` cuts of ``ref`` centre on when a request
        names no gravity. Variants need no purge: their key names the focus.

        :raises ImageNotFound: nothing is stored under ``ref``.
        :raises StorageUnavailable: the store cannot be written.
        """
        record = self.storage.record(ref)
        self.storage.update_record(ref, replace(record, focus=focus))

    def purge_variants(self, ref: str) -> None:
        """Remove every cached variant of ``ref``, here and in the shared bucket;
        the original stays, and the next reads convert again.

        :raises ImageNotFound: nothing is stored under ``ref``.
        """
        self.storage.record(ref)
        if self.cache is not None:
            self.cache.purge(ref)

    def _drop_if_deleted(self, cache: VariantCache, ref: str) -> None:
        """A delete wins over a conversion in flight: the variant just cached is
        removed again (locally and in the shared tier) if the original is gone.

        ``delete`` removes the original before it purges, and this looks for the
        original after the variant was written: either the purge sees the variant,
        or this sees the original gone.

        :raises ImageNotFound: the original is gone.
        """
        try:
            self.storage.record(ref)
        except ImageNotFound:
            cache.purge(ref)
            raise

    def _counted_convert(
        self, record: ImageRecord, ref: str, target: ImageFormat,
        options: ImageOptions,
    ) -> bytes:
        """``convert``, counted and timed in the metrics."""
        with self.metrics.conversion(record.format, target.name):
            return self.convert(ref, target, options)

    def _encoder(self, target: ImageFormat) -> dict[str, object]:
        return self._encoders.get(target.name, {})

    def _convert_job(self, target: ImageFormat, options: ImageOptions) -> ConvertJob:
        """The job converting to ``target`` after ``options``, with the stored
        images the options name (read here, decoded in the converter).

        :raises InvalidOptions: the mask or watermark names no stored image.
        """
        mask, mark = (
            self._option_image(name, ref) if ref else None
            for name, ref in (
                ("mask", options.mask_reference),
                ("watermark", options.watermark_reference),
            )
        )
        return ConvertJob(
            target, self.formats, self.settings.max_pixels,
            options, self._encoder(target), mask, mark,
        )

    def _option_image(self, parameter: str, ref: str) -> bytes:
        """The stored bytes of the image an option names (the converter decodes
        them).

        :raises InvalidOptions: nothing is stored under ``ref``.
        """
        try:
            stream = self.storage.open(ref)
        except ImageNotFound:
            raise InvalidOptions(
                f"parameter '{parameter}': no image is stored under {ref}"
            ) from None
        with stream:
            return stream.read()

    def close(self) -> None:
        """Stop the converter processes, unless the pool was handed in."""
        if self.pool is None:
            self.converters.close()


def chosen_quality(data: bytes) -> int | None:
    """The quality ``max_bytes`` chose for a converted result, if it chose one."""
    return data.quality if isinstance(data, Encoded) else None


def _with_stored_focus(options: ImageOptions, record: ImageRecord) -> ImageOptions:
    """A cover cut that names no gravity (the centre) centres on the image's stored
    focus instead, and its key says so: a changed focus is another variant, never
    an old crop."""
    if record.focus is None or options.fit != "cover" or options.gravity != "center":
        return options
    return replace(options, gravity="focus", focus=record.focus)
