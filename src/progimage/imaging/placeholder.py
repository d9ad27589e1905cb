"""Placeholders: an image's BlurHash and average colour, from a reduced copy, and
the small blurred PNG a BlurHash decodes to."""

import io

import blurhash
from PIL import Image

from ..exceptions import UnsupportedImage
from . import blurhashes, modes

# The longest side of the copy that is hashed: the hash keeps a few components,
# and the encoder converts every pixel it is given to linear light, for every
# component (at 64 px that took 20 ms, at 32 px 5 ms).
SAMPLE_SIDE = 32
# Components along the longer and the shorter side (BlurHash allows 1-9 each).
COMPONENTS = (4, 3)
# The longest side of the PNG a hash decodes to: a browser scales it up, blurred.
RENDER_SIDE = 32
# Modes Pillow reduces as they are; others are converted to RGB first.
REDUCIBLE = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I", "F"})
# EXIF orientation -> the transposition that makes the image upright (Pillow's own
# ImageOps.exif_transpose table).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def summarise(image: Image.Image, orientation: int = 1) -> tuple[str, str]:
    """The BlurHash and the average colour (``#rrggbb``) of a decoded frame, seen
    upright (``orientation``: its EXIF orientation) and over white; both empty
    for a mode Pillow cannot convert to RGB.
    """
    sample = _sample(image, orientation)
    if sample is None:
        return "", ""
    red, green, blue = (round(value) for value in blurhashes.mean_colour(sample))
    longer, shorter = COMPONENTS
    x, y = (longer, shorter) if sample.width >= sample.height else (shorter, longer)
    hash_ = blurhashes.encode(sample, x, y)
    return hash_, f"#{red:02x}{green:02x}{blue:02x}"


def render(hash_: str, width: int, height: int) -> bytes:
    """The PNG ``hash_`` decodes to, in the aspect ratio of ``width`` x ``height``
    with its longer side ``RENDER_SIDE`` pixels.

    :raises UnsupportedImage: ``hash_`` is not a valid BlurHash.
    """
    scale = RENDER_SIDE / max(width, height, 1)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if not blurhash.is_valid_blurhash(hash_):
        raise UnsupportedImage("the stored placeholder hash is not a valid BlurHash")
    output = io.BytesIO()
    blurhash.decode(hash_, *size).save(output, "PNG", optimize=True)
    return output.getvalue()


def _sample(image: Image.Image, orientation: int) -> Image.Image | None:
    """A copy at most ``SAMPLE_SIDE`` pixels on its longer side, upright, in RGB
    (deep samples scaled to 8 bits, transparency over white); None for a mode
    Pillow cannot turn into RGB."""
    try:
        if image.mode not in REDUCIBLE:
            image = modes.to_mode(image, "RGB")
        scale = min(1.0, SAMPLE_SIDE / max(image.size))
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        # A new image: the decoded one is left as it was (it may be converted next).
        sample = image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
        if orientation in UPRIGHT:
            sample = sample.transpose(UPRIGHT[orientation])
        return modes.to_mode(sample, "RGB")
    except ValueError:
        return None
