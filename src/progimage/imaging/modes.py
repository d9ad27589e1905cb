"""Bring an image into a mode the target format can store, as faithfully as it can.

Alpha is flattened onto white when the target has no alpha, 16-bit and float data is
scaled (not clipped) to 8 bits when the target has no deep mode, and colours are
quantised or dithered only for palette and bi-level formats.
"""

from PIL import Image

from .formats import ImageFormat

WHITE = (255, 255, 255, 255)

# Exotic modes are first mapped to the nearest of the modes formats are probed with.
CANONICAL = {
    "I;16B": "I;16", "I;16L": "I;16", "I;16N": "I;16",
    "LAB": "RGB", "HSV": "RGB", "RGBX": "RGB", "YCbCr": "RGB",
    "RGBa": "RGBA", "La": "LA",
}

# Where to go, nearest first, when the target format cannot store a mode.
FALLBACKS = {
    "1": ("L", "RGB", "P", "F"),
    "L": ("RGB", "P", "1", "I", "F"),
    "LA": ("RGBA", "L", "RGB", "P", "1", "F"),
    "P": ("RGB", "L", "1", "F"),
    "PA": ("RGBA", "P", "RGB", "L", "1", "F"),
    "RGB": ("P", "L", "1", "F"),
    "RGBA": ("RGB", "P", "L", "1", "F"),
    "CMYK": ("RGB", "P", "L", "1", "F"),
    "I;16": ("I", "F", "L", "RGB", "P", "1"),
    "I": ("I;16", "F", "L", "RGB", "P", "1"),
    "F": ("L", "RGB", "P", "1"),
}


def adapt(
    image: Image.Image, fmt: ImageFormat, background: tuple[int, ...] = WHITE
) -> Image.Image:
    """Return ``image`` in a mode that ``fmt`` stores, converting only if needed;
    alpha is flattened onto ``background`` where the format has none."""
    mode = CANONICAL.get(image.mode, image.mode)
    transparency = image.info.get("transparency")
    if mode == "P" and (
        "P" not in fmt.modes
        or transparency is not None
        and (isinstance(transparency, bytes) or not fmt.keeps_palette)
    ):
        # Expand the palette so that transparency survives as alpha; an alpha
        # value per palette entry (bytes) survives only that way.
        mode = "RGB" if transparency is None else "RGBA"
    if mode != image.mode:
        image = image.convert(mode)
    if mode in fmt.modes:
        return image
    for target in FALLBACKS.get(mode, ()):
        if target in fmt.modes:
            return to_mode(image, target, background)
    return image  # nothing fits: let the encoder say why


def to_mode(
    image: Image.Image, target: str, background: tuple[int, ...] = WHITE
) -> Image.Image:
    """Convert between modes without clipping depth or blackening transparency."""
    if image.mode in ("I", "I;16", "F") and target not in ("I", "I;16", "F"):
        image = _scale_to_8_bit(image)
    elif image.mode == "I" and target == "I;16":
        image = image.point(lambda value: value * _factor(image, 65535))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # then flattened, like any alpha
    if image.mode in ("LA", "RGBA", "PA") and target not in ("LA", "RGBA", "PA"):
        image = _flatten(image, background)
    if target == "P":
        return image.convert("RGB").quantize(colors=256)
    if target == "1":
        return image.convert("L").convert("1")
    if target in ("I", "F") and image.mode not in ("L", "I", "F"):
        image = image.convert("L")
    return image.convert(target)


def _scale_to_8_bit(image: Image.Image) -> Image.Image:
    """Map 16-bit, 32-bit or float samples onto 0-255 by the range they use."""
    if image.mode != "F":
        image = image.convert("I")
    return image.point(lambda value: value * _factor(image, 255)).convert("L")


def _factor(image: Image.Image, top: int) -> float:
    low, high = image.getextrema()
    if low >= 0 and high <= 1.0 and image.mode == "F":
        return float(top)  # normalised floats
    for ceiling in (255, 65535, 2**32 - 1):
        if low >= 0 and high <= ceiling:
            return top / ceiling
    return top / high if high > 0 else 1.0


def _flatten(image: Image.Image, background: tuple[int, ...]) -> Image.Image:
    """Composite onto an opaque colour (white by default, as a browser shows it)."""
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (*background[:3], 255))
    return Image.alpha_composite(canvas, rgba).convert("RGB")
