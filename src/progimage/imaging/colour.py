"""Colour management: pixels described by an ICC profile other than sRGB, in sRGB.

A Display P3 or Adobe RGB image whose profile is dropped (the target cannot store
one, or ``icc=srgb`` asks for none) would show its numbers as sRGB: reds and greens
dull and shifted; a CMYK image would get Pillow's naive inversion instead of its inks,
and a grey one its levels read on the sRGB curve. Converting the pixels with the
profile first (LittleCMS through Pillow's ImageCms, relative colorimetric intent)
keeps the colours that sRGB can show.
"""

import functools
import io
from collections.abc import Collection

from PIL import Image, ImageCms

# The colour space a profile declares (ICC header bytes 16-19) -> the modes of the
# frames it converts, and the mode LittleCMS reads them in. Alpha is set aside and
# kept; a palette is converted by its entries. Other frames keep their pixels.
RGB_SPACE = b"RGB "
CONVERTED_MODES = {
    RGB_SPACE: {"RGB": "RGB", "RGBA": "RGB", "P": "RGB"},
    b"CMYK": {"CMYK": "CMYK"},
    b"GRAY": {"L": "L", "LA": "L"},
}
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# The formats (of those that store a profile) whose files hold CMYK pixels.
CMYK_FORMATS = frozenset({"JPEG", "MPO", "TIFF"})


def lost_in_adapting(
    profile: bytes | None, mode: str, target_name: str, target_modes: Collection[str]
) -> bool:
    """Whether a CMYK or grey frame with its own profile goes to another mode for
    the target (CMYK into PNG or WebP...): the profile would then describe pixels
    that are no longer there. (An RGB profile fits whatever RGB mode comes.)

    WebP, AVIF and HEIF accept CMYK in Pillow but turn it into RGB themselves, so
    only ``CMYK_FORMATS`` keep it.
    """
    if not profile or mode not in CONVERTED_MODES.get(profile[16:20], {}):
        return False
    if profile[16:20] == RGB_SPACE:
        return False
    if mode == "CMYK":
        return target_name not in CMYK_FORMATS
    return mode not in target_modes


def is_srgb(profile: bytes) -> bool:
    """Whether ``profile`` is one of the sRGB profiles, by its description ("sRGB
    IEC61966-2.1", "sRGB built-in"...); an unreadable profile is not."""
    try:
        description = ImageCms.getProfileDescription(_opened(profile))
    except (OSError, ImageCms.PyCMSError):
        return False
    return "srgb" in description.lower()


def to_srgb(frame: Image.Image, profile: bytes | None) -> Image.Image:
    """``frame``, whose pixels ``profile`` describes, in sRGB and without a profile.

    RGB, RGBA and palette frames with an RGB profile other than sRGB, CMYK frames
    with a CMYK profile (into RGB) and grey frames with a grey one (staying grey)
    are converted; any other frame keeps its pixels, as does one whose profile
    LittleCMS cannot read. Either way the result carries no ``icc_profile``.
    """
    info = {key: value for key, value in frame.info.items() if key != "icc_profile"}
    spaces = CONVERTED_MODES.get(profile[16:20], {}) if profile else {}
    read_as = spaces.get(frame.mode)
    if read_as is None or is_srgb(profile):
        frame.info = info
        return frame
    try:
        transform = _transform(profile, read_as)
    except (OSError, ImageCms.PyCMSError):
        frame.info = info
        return frame
    if frame.mode == "P":
        converted = _converted_palette(frame, transform)
    else:
        converted = _converted_pixels(frame, transform, read_as)
    converted.info = info
    return converted


def _converted_pixels(
    frame: Image.Image, transform: ImageCms.ImageCmsTransform, read_as: str
) -> Image.Image:
    """Convert the colour channels; alpha is copied as it is. A grey frame stays
    grey: its sRGB greys have equal channels."""
    converted = ImageCms.applyTransform(frame.convert(read_as), transform)
    assert converted is not None  # applyTransform returns None only in place
    if read_as == "L":
        converted = converted.convert("L")
    if "A" in frame.getbands():
        converted.putalpha(frame.getchannel("A"))
    return converted


def _converted_palette(
    frame: Image.Image, transform: ImageCms.ImageCmsTransform
) -> Image.Image:
    """Convert a palette's entries: the indices and the transparency stay."""
    palette = frame.getpalette("RGB")
    if not palette:
        return frame
    entries = Image.frombytes("RGB", (len(palette) // 3, 1), bytes(palette))
    converted = frame.copy()
    converted.putpalette(ImageCms.applyTransform(entries, transform).tobytes())
    return converted


@functools.lru_cache(maxsize=8)
def _transform(profile: bytes, read_as: str) -> ImageCms.ImageCmsTransform:
    """One transform per profile: an animation's frames share it."""
    return ImageCms.buildTransform(
        _opened(profile), SRGB, read_as, "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )


def _opened(profile: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(profile))
