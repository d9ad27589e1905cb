"""Exact AVIF: a save handler that writes ``lossless`` still images through imagecodecs.

Pillow's AVIF encoder always converts RGB to YUV with BT.601 coefficients, whose
rounding moves channels by up to 3 even at quality 100 with 4:4:4 chroma. Exact AVIF
needs the identity matrix (the planes hold G, B and R as they are), 4:4:4 and
quantizer 0, as ``avifenc --lossless`` writes it; imagecodecs' libavif binding does
that. It writes neither an ICC profile, EXIF, XMP nor frame durations, so:

- a lossless still is tagged sRGB (BT.709 primaries, sRGB transfer) and has no ICC
  profile or other metadata; a still whose profile is not sRGB (Display P3, Adobe
  RGB) stays on Pillow's encoder with its profile instead, so that its colours stay
  right, within 3 per channel of exact;
- animations stay on Pillow's encoder, which keeps their frame durations (imagecodecs
  would show every frame for one second); ``encoding`` asks it for quality 100 at
  4:4:4 then, the closest it gets.
"""

import os
from typing import IO

from PIL import AvifImagePlugin, Image

from . import colour

# Pillow's default AVIF speed (0 slowest - 10 fastest). imagecodecs' own default is
# 30 times slower (10 s instead of 0.3 s for 640 x 480 on 2 cores) for 4% fewer bytes.
SPEED = 6
# The modes written as they are; the others become one of these as Pillow's AVIF
# encoder would make them.
EXACT_MODES = frozenset({"L", "LA", "RGB", "RGBA"})


def save(image: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    """Pillow's AVIF save handler, except that ``lossless=True`` writes exact pixels.

    :raises RuntimeError: libavif refused the image (``imagecodecs.AvifError``).
    """
    if not image.encoderinfo.get("lossless") or not _shows_as_srgb(image):
        AvifImagePlugin._save(image, fp, filename)
        return
    fp.write(encode(image))


def encode(image: Image.Image) -> bytes:
    """``image`` as an AVIF that decodes to exactly the same pixels.

    :raises RuntimeError: libavif refused the image (``imagecodecs.AvifError``).
    """
    import imagecodecs  # loaded by the converters that write lossless AVIF only
    import numpy

    avif = imagecodecs.AVIF
    return imagecodecs.avif_encode(
        numpy.asarray(image.convert(_exact_mode(image))),
        level=avif.QUALITY.LOSSLESS,
        speed=SPEED,
        primaries=avif.COLOR_PRIMARIES.BT709,
        transfer=avif.TRANSFER_CHARACTERISTICS.SRGB,
        numthreads=os.cpu_count(),
    )


def _shows_as_srgb(image: Image.Image) -> bool:
    """Whether an sRGB tag shows the pixels as their ICC profile does: there is no
    profile, or it is one of the sRGB profiles (by its description, as "sRGB
    IEC61966-2.1" or "sRGB built-in" say)."""
    profile = image.encoderinfo.get("icc_profile")
    return not profile or colour.is_srgb(profile)


def _exact_mode(image: Image.Image) -> str:
    if image.mode in EXACT_MODES:
        return image.mode
    if image.mode == "1":
        return "L"
    return "RGBA" if image.has_transparency_data else "RGB"
