"""Encoder settings: per-format defaults from the settings, and what a request adds
(quality, lossless, metadata, background).

The defaults, measured on a 1-megapixel photo on a 2-core Xeon (Pillow 13; encode
time, size):

======  ==========================  =========  =======  ====================
format  setting                     time       size     Pillow's default
======  ==========================  =========  =======  ====================
PNG     compress_level=3            90-240 ms  +5-12%   level 6: 220-800 ms
WebP    quality=80, method=2        30-40 ms   +1-5%    method 4: 75-100 ms
JPEG    quality=85, no optimize,    3 ms       +5%      optimize: 7 ms,
        baseline                                        progressive: 15 ms
AVIF    quality=60, speed=8         94 ms      +9%      speed 6: 286 ms
======  ==========================  =========  =======  ====================

A variant is encoded once and then served from the cache, but the first request waits
for the encoder, so these favour speed where the size cost is a few percent. Every
value can be overridden with a ``PROGIMAGE_*`` setting (see ``config.py``); a
request's ``q`` and ``lossless`` override them in turn.
"""

from ..options import ImageOptions
from . import modes
from .formats import ImageFormat

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
    """WebP has a true lossless mode. So has AVIF for still images (``lossless_avif``);
    an animation stays on Pillow's encoder, at its best quality and full chroma."""
    if name == "WEBP":
        return {"lossless": True}
    if name == "AVIF":
        return {"lossless": True, "quality": 100, "subsampling": "4:4:4"}
    if name == "HEIF":
        return {"quality": -1}
    return {}


def _fits(profile: bytes, mode: str) -> bool:
    """Whether an ICC profile describes the colour space of ``mode``."""
    return profile[16:20] == PROFILE_SPACES.get(mode, b"RGB ")
