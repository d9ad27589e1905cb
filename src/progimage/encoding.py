"""Encoder settings for a request: quality, lossless, metadata and background."""

from . import modes
from .formats import ImageFormat
from .options import ImageOptions

# Formats whose encoders take ``quality`` (1-100, higher is better).
QUALITY_FORMATS = frozenset({"JPEG", "MPO", "WEBP", "AVIF", "HEIF"})
# Formats that store metadata, and the metadata their Pillow encoders accept.
ICC_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "AVIF", "HEIF", "TIFF"})
EXIF_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "AVIF", "HEIF"})
XMP_FORMATS = frozenset({"JPEG", "MPO", "WEBP", "AVIF", "HEIF"})
# The colour space an ICC profile describes (header bytes 16-19) for each mode.
PROFILE_SPACES = {"L": b"GRAY", "LA": b"GRAY", "CMYK": b"CMYK"}


def background(options: ImageOptions) -> tuple[int, int, int, int]:
    """The colour alpha is flattened onto where the format has no alpha."""
    return options.background or modes.WHITE


def save_params(
    info: dict, mode: str, target: ImageFormat, options: ImageOptions
) -> dict[str, object]:
    """Keyword arguments for ``Image.save`` of a processed frame: ``info`` is its
    metadata, ``mode`` the mode it is written in.

    The metadata is carried over: the ICC profile always (when it fits the output's
    colour space), EXIF and XMP unless ``strip`` is set. The orientation step has
    already reset the orientation they hold.
    """
    params: dict[str, object] = {}
    if options.quality is not None and target.name in QUALITY_FORMATS:
        params["quality"] = options.quality
    if options.lossless:
        params.update(_lossless(target.name))
    if target.name == "TIFF" and mode != "1" and str(
        info.get("compression")
    ).startswith("group"):
        # Fax (CCITT group 3/4) compression, kept from a 1-bit source, needs 1 bit.
        params["compression"] = "tiff_lzw"
    icc = info.get("icc_profile")
    if target.name in ICC_FORMATS:
        params["icc_profile"] = icc if icc and _fits(icc, mode) else None
    if options.strip:
        params["comment"] = b""
        return params
    for key, formats in (("exif", EXIF_FORMATS), ("xmp", XMP_FORMATS)):
        if info.get(key) and target.name in formats:
            params[key] = info[key]
    return params


def _lossless(name: str) -> dict[str, object]:
    """WebP has a true lossless mode; AVIF gets its best quality at full chroma."""
    if name == "WEBP":
        return {"lossless": True}
    if name == "AVIF":
        return {"quality": 100, "subsampling": "4:4:4"}
    if name == "HEIF":
        return {"quality": -1}
    return {}


def _fits(profile: bytes, mode: str) -> bool:
    """Whether an ICC profile describes the colour space of ``mode``."""
    return profile[16:20] == PROFILE_SPACES.get(mode, b"RGB ")
