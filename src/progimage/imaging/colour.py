"""Colour management: pixels described by a wide-gamut ICC profile, turned into sRGB.

A Display P3 or Adobe RGB image whose profile is dropped (the target cannot store
one, or ``icc=srgb`` asks for none) would show its numbers as sRGB: reds and greens
dull and shifted. Converting the pixels with the profile first (LittleCMS through
Pillow's ImageCms, relative colorimetric intent) keeps the colours that sRGB can show.
"""

import functools
import io

from PIL import Image, ImageCms

# The colour space an RGB profile declares (ICC header bytes 16-19).
RGB_SPACE = b"RGB "
# Modes whose colour channels are converted directly; alpha is set aside and kept.
RGB_MODES = frozenset({"RGB", "RGBA"})
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


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

    RGB, RGBA and palette frames with an RGB profile other than sRGB are converted
    (a palette by its entries, so the indices stay); any other frame keeps its
    pixels, as does one whose profile LittleCMS cannot read. Either way the result
    carries no ``icc_profile``.
    """
    info = {key: value for key, value in frame.info.items() if key != "icc_profile"}
    if not profile or profile[16:20] != RGB_SPACE or is_srgb(profile):
        frame.info = info
        return frame
    try:
        transform = _transform(profile)
    except (OSError, ImageCms.PyCMSError):
        frame.info = info
        return frame
    if frame.mode in RGB_MODES:
        converted = _converted_rgb(frame, transform)
    elif frame.mode == "P":
        converted = _converted_palette(frame, transform)
    else:
        converted = frame
    converted.info = info
    return converted


def _converted_rgb(
    frame: Image.Image, transform: ImageCms.ImageCmsTransform
) -> Image.Image:
    """Convert the colour channels; alpha is copied as it is."""
    converted = ImageCms.applyTransform(frame.convert("RGB"), transform)
    assert converted is not None  # applyTransform returns None only in place
    if frame.mode == "RGBA":
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
def _transform(profile: bytes) -> ImageCms.ImageCmsTransform:
    """One transform per profile: an animation's frames share it."""
    return ImageCms.buildTransform(
        _opened(profile), SRGB, "RGB", "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )


def _opened(profile: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(profile))
