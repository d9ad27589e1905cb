"""Reading images with Pillow: identify an upload, and open a stored image safely."""

import contextlib
import dataclasses
import functools
import struct
import subprocess
import warnings
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from PIL import Image, ImageFile, UnidentifiedImageError

from ..exceptions import ImageTooLarge, UnsupportedImage
from . import apng, placeholder
from .formats import FormatRegistry, ImageFormat
from .jobs import JPEG_FORMATS, ImageInfo
from . import jpeg_markers

# Layers of these formats are not frames: only the composite image is shown.
LAYERED_FORMATS = frozenset({"PSD"})

# Uploads whose first frame decodes to at most this many pixels are decoded as a
# check (at most 8 MB of pixel data); JPEG counts at 1/8 scale.
CHECK_MAX_PIXELS = 2_000_000
CHECK_CHUNK = 64 * 1024
# The check reads a PNG's chunks, and a JPEG's markers, without decoding them; an
# image up to this size is decoded for its placeholder at upload anyway (a 500x500
# PNG photo: about 20 ms, a JPEG at 1/8 scale: 0.5 ms), a larger one gets it
# computed when first asked for.
PLACEHOLDER_PIXELS = 250_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The EXIF tag that says how the camera was held.
ORIENTATION = 0x0112
# Bytes a format's signature check (Pillow's ``_accept``) looks at.
SIGNATURE_BYTES = 16
# Most scans a JPEG may have. libjpeg decodes every scan of a progressive JPEG over
# the whole image, so a file that repeats its last scan 1,000 times costs 1,000 passes
# ("scan bomb"); libjpeg-turbo's djpeg has ``-maxscans`` for this. A standard
# progressive JPEG has 10 scans (6 in greyscale), an MPO two or three times that;
# 100 leaves room for unusual encoders and still bounds the work to a few decodes.
MAX_JPEG_SCANS = 100

# What Pillow raises for damaged, truncated or undecodable data (RuntimeError: the
# AVIF decoder's "Failed to decode frame"; SubprocessError: Ghostscript gave up on
# an EPS file; AssertionError: a state Pillow assumes, such as a palette image
# having a palette, that a damaged file breaks).
DECODE_ERRORS = (
    OSError, ValueError, EOFError, SyntaxError, IndexError, KeyError, TypeError,
    ZeroDivisionError, OverflowError, AssertionError, MemoryError, RuntimeError,
    struct.error,
    subprocess.SubprocessError,
)


def frame_count(image: Image.Image, at_most: int | None = None) -> int:
    """How many frames or pages the image has (layers do not count).

    GIF has no frame count in its header: Pillow walks the whole file for it. With
    ``at_most``, a GIF is walked only until it has more frames than that.
    """
    if image.format in LAYERED_FORMATS:
        return 1
    if at_most is not None and image.format == "GIF":
        return _count_gif_frames(image, at_most)
    return getattr(image, "n_frames", 1)


@contextlib.contextmanager
def pillow_warnings() -> Iterator[None]:
    """Pillow's bomb warning is an error here; its notes on damaged metadata
    ("Corrupt EXIF data") and on its own deprecated plugins (IM) are not."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


@contextlib.contextmanager
def open_image(
    stream: BinaryIO, registry: FormatRegistry, max_pixels: int
) -> Iterator[Image.Image]:
    """Open an image, refusing anything above ``max_pixels`` before decoding it.

    :raises UnsupportedImage: the bytes are not an image Pillow can read.
    :raises ImageTooLarge: width x height x frames exceeds ``max_pixels``.
    """
    try:
        with pillow_warnings():
            image = Image.open(_Borrowed(stream), formats=opening_order(registry))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(too_large(max_pixels)) from None
    except UnidentifiedImageError:
        raise _unidentified(stream, registry) from None
    except DECODE_ERRORS as error:
        raise _header_error(error) from None
    with image:
        _check_pixels(image, max_pixels)
        if image.format in JPEG_FORMATS:
            _check_scans(stream)
        yield image


@functools.lru_cache(maxsize=8)
def opening_order(registry: FormatRegistry) -> tuple[str, ...]:
    """The readable formats in the order ``Image.open`` tries them: those Pillow
    recognises by their first bytes, then those it can only try to parse (IM, IPTC,
    TGA...). Pillow tries formats in the order given and parses the file as each
    one whose signature matches or that has none: in name order a JPEG was parsed
    as IM, IMT and IPTC before JPEG (a tenth of a 1 MP JPEG's check)."""
    Image.init()  # every plugin's entry in Image.OPEN
    names = [fmt.name for fmt in registry.readable()]
    return tuple(sorted(names, key=lambda name: Image.OPEN[name][1] is None))


def _unidentified(stream: BinaryIO, registry: FormatRegistry) -> UnsupportedImage:
    """The error for bytes no allowed format opens, naming the setting that turns
    their format on if it is one this server switched off."""
    stream.seek(0)
    signature = stream.read(SIGNATURE_BYTES)
    for name, setting in registry.switched_off.items():
        accept = Image.OPEN[name][1]
        if accept is not None and accept(signature):
            return UnsupportedImage(
                f"{name} input is off on this server: reading it runs a PostScript "
                f"interpreter (Ghostscript); set {setting}=1 to accept it"
            )
    return UnsupportedImage("the file is not an image in a format we read")


def _check_scans(stream: BinaryIO) -> None:
    """Refuse a JPEG with more scans than any encoder makes, before decoding it.

    :raises ImageTooLarge: more than ``MAX_JPEG_SCANS`` scans.
    """
    position = stream.tell()
    stream.seek(0)
    too_many = jpeg_markers.has_more_scans(stream.read(), than=MAX_JPEG_SCANS)
    stream.seek(position)
    if too_many:
        raise ImageTooLarge(
            f"the JPEG has more than {MAX_JPEG_SCANS} scans, each a pass over the "
            "whole image: it is too costly to decode"
        )


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    """Refuse an image above the limit, from its header (frames counted cheaply).

    :raises ImageTooLarge: width x height x frames exceeds ``max_pixels``.
    :raises UnsupportedImage: the frame headers are damaged.
    """
    per_frame = image.width * image.height
    if per_frame > max_pixels:
        raise ImageTooLarge(too_large(max_pixels))
    allowed = max_pixels // per_frame if per_frame else None
    try:
        with pillow_warnings():
            frames = frame_count(image, at_most=allowed)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(too_large(max_pixels)) from None
    except DECODE_ERRORS as error:
        raise _header_error(error) from None
    if per_frame * frames > max_pixels:
        raise ImageTooLarge(too_large(max_pixels))
    apng.check_frames(image)


def _count_gif_frames(image: Image.Image, at_most: int) -> int:
    """Count GIF frames by reading frame headers only, stopping past ``at_most``.

    A count that reached the end is kept as Pillow's ``n_frames``: walking again
    would start where this walk stopped, which ``seek(0)`` does not rewind when
    the walk failed on frame 1 (a frame header after the trailer then read past
    the end of the file)."""
    count = 1
    try:
        while count <= at_most:
            # Pillow's own n_frames does this: seek without decoding (update_image).
            image._seek(count, False)
            count += 1
    except EOFError:
        image._n_frames = count  # type: ignore[attr-defined]
    finally:
        image.seek(0)
    return count


def _header_error(error: Exception) -> Exception:
    if _is_metadata_bomb(error):
        return ImageTooLarge(
            "the image's metadata decompresses beyond the safety limit"
        )
    return UnsupportedImage(f"the image header is damaged ({_reason(error)})")


def inspect(stream: BinaryIO, registry: FormatRegistry, max_pixels: int) -> ImageInfo:
    """Identify an upload from its header and check its data in bounded memory.

    The data check never holds a full-size decode: PNG chunks are read through
    and their checksums compared, a JPEG's markers are walked to its end (a small
    JPEG, or one the walk cannot vouch for, decodes at 1/8 scale), and other
    formats decode their first frame only when it is small (``CHECK_MAX_PIXELS``);
    larger ones are checked at conversion time. The placeholder (BlurHash, average
    colour) comes from the decode the check made; a PNG within
    ``PLACEHOLDER_PIXELS`` is decoded for it; other images the check does not
    decode get none here (the placeholder route computes it).

    :raises UnsupportedImage: not an image, or its data is damaged or truncated.
    :raises ImageTooLarge: above the pixel limit.
    """
    with open_image(stream, registry, max_pixels) as image:
        fmt = registry.for_name(image.format)
        # A PNG may keep its eXIf chunk after the pixels: reading it would decode them.
        exif_known = image.format != "PNG" or "exif" in image.info
        try:
            with pillow_warnings():
                frames = frame_count(image)
            info = ImageInfo(
                fmt, image.width, image.height, frames, image.mode,
                orientation=orientation(image) if exif_known else 1,
                has_alpha=image.has_transparency_data,
            )
        except DECODE_ERRORS as error:
            raise _header_error(error) from None
        if not _checked_without_decoding(image, stream, fmt):
            # A no-op except for JPEG, which then decodes at 1/8 of its size.
            image.draft(image.mode, (1, 1))
            # Stub formats (WMF, GRIB, HDF5...) cannot load without a handler,
            # and find that out without decoding anything.
            stub = isinstance(image, ImageFile.StubImageFile)
            if stub or image.width * image.height <= CHECK_MAX_PIXELS:
                load(image, fmt)
                info = _with_placeholder(info, image)
    if info.format.name == "PNG" and info.width * info.height <= PLACEHOLDER_PIXELS:
        stream.seek(0)
        info = _with_placeholder(info, decode(stream, registry, max_pixels))
    stream.seek(0)
    return info


def _with_placeholder(info: ImageInfo, image: Image.Image) -> ImageInfo:
    """``info`` with the placeholder of ``image``, its first frame decoded (at a
    JPEG's reduced scale)."""
    hash_, colour = placeholder.summarise(image, info.orientation)
    return dataclasses.replace(info, blurhash=hash_, colour=colour)


def _checked_without_decoding(
    image: Image.Image, stream: BinaryIO, fmt: ImageFormat
) -> bool:
    """Whether the upload's data is checked from its structure alone: a PNG's
    chunks, a JPEG's markers (above ``PLACEHOLDER_PIXELS``: a smaller one is decoded
    for its placeholder, which checks it too).

    :raises UnsupportedImage: the structure shows the data cut off or damaged.
    """
    if image.format == "PNG":
        _check_png(stream, fmt)
        return True
    small = image.width * image.height <= PLACEHOLDER_PIXELS
    if image.format not in JPEG_FORMATS or small:
        return False
    position = stream.tell()
    stream.seek(0)
    try:
        return jpeg_markers.is_whole(stream.read())
    except jpeg_markers.DamagedJpeg as error:
        raise UnsupportedImage(
            f"the {fmt.name} image cannot be decoded ({error})"
        ) from None
    finally:
        stream.seek(position)


def _check_png(stream: BinaryIO, fmt: ImageFormat) -> None:
    """Read every chunk up to IEND in small pieces and compare its CRC.

    :raises UnsupportedImage: a chunk is cut off or its checksum is wrong.
    """
    truncated = UnsupportedImage(f"the {fmt.name} image cannot be decoded (truncated)")
    stream.seek(len(PNG_SIGNATURE))
    while True:
        header = stream.read(8)
        if len(header) < 8:
            raise truncated
        length, kind = struct.unpack(">I4s", header)
        crc = zlib.crc32(kind)
        remaining = length
        while remaining and (piece := stream.read(min(remaining, CHECK_CHUNK))):
            crc = zlib.crc32(piece, crc)
            remaining -= len(piece)
        stored = stream.read(4)
        if remaining or len(stored) < 4:
            raise truncated
        if struct.unpack(">I", stored)[0] != crc:
            raise UnsupportedImage(
                f"the {fmt.name} image cannot be decoded (bad checksum in "
                f"{kind.decode('latin-1')!r})"
            )
        if kind == b"IEND":
            return


def decode(
    stream: BinaryIO, registry: FormatRegistry, max_pixels: int,
    toward: tuple[int, int] | None = None,
) -> Image.Image:
    """The first frame of an image, decoded and independent of ``stream``; with
    ``toward``, a JPEG decodes at the smallest 1/2, 1/4 or 1/8 scale still at least
    that large (other formats decode at full size).

    :raises UnsupportedImage: not an image, or its pixels cannot be decoded.
    :raises ImageTooLarge: above the pixel limit.
    """
    with open_image(stream, registry, max_pixels) as image:
        if toward is not None:
            image.draft(image.mode, toward)
        load(image, registry.for_name(image.format))
        return image.copy()


def orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1-8); 1 when it is absent, invalid or unreadable."""
    try:
        with pillow_warnings():  # "Truncated File Read" in a damaged EXIF block
            value = image.getexif().get(ORIENTATION, 1)
    except DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def load(image: Image.Image, fmt: ImageFormat) -> None:
    """Decode the current frame.

    :raises UnsupportedImage: the pixel data is damaged or needs a missing decoder.
    """
    try:
        with pillow_warnings():
            image.load()
    except DECODE_ERRORS as error:
        raise UnsupportedImage(
            f"the {fmt.name} image cannot be decoded ({_reason(error)})"
        ) from None


def _is_metadata_bomb(error: Exception) -> bool:
    """Pillow refused to inflate a compressed text or profile chunk (a PNG bomb)."""
    text = str(error).lower()
    return isinstance(error, ValueError) and (
        "too large" in text or "too much memory" in text
    )


class _Borrowed:
    """The caller's stream, lent to Pillow: plugins that close it (FTEX, MIC) cannot,
    and an in-memory upload shows no ``name`` (EPS would take it for a path)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def __getattr__(self, attribute: str) -> object:
        if attribute == "name" and not isinstance(
            getattr(self._stream, "name", None), str
        ):
            raise AttributeError(attribute)
        return getattr(self._stream, attribute)

    def close(self) -> None:
        """Leave the stream open: its owner closes it."""


def _reason(error: Exception) -> str:
    """Pillow's message, unless it names internals such as object addresses."""
    text = str(error).split(" at 0x")[0].strip()
    return text if text and len(text) < 120 else type(error).__name__


def too_large(max_pixels: int) -> str:
    """The message for an image above the pixel limit."""
    return (
        f"the image exceeds the limit of {max_pixels:,} pixels "
        "(width x height x frames)"
    )
