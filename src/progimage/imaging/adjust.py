"""Colour adjustments: brightness, contrast, saturation and gamma, alpha untouched."""

from PIL import Image, ImageEnhance

# Factors that change nothing: the defaults of the options.
NEUTRAL = 1.0


def adjust(
    frame: Image.Image,
    brightness: float,
    contrast: float,
    saturation: float,
    gamma: float,
) -> Image.Image:
    """Apply each factor that is not 1, in this order, to the colour channels of
    an "L", "LA", "RGB" or "RGBA" frame; alpha is kept as it is (set aside, so that
    the gamma table touches colour only)."""
    alpha = frame.getchannel("A") if frame.mode in ("LA", "RGBA") else None
    colour = frame.convert(frame.mode[:-1]) if alpha is not None else frame
    for enhancer, factor in (
        (ImageEnhance.Brightness, brightness),
        (ImageEnhance.Contrast, contrast),
        (ImageEnhance.Color, saturation),
    ):
        if factor != NEUTRAL:
            colour = enhancer(colour).enhance(factor)
    if gamma != NEUTRAL:
        # gamma > 1 brightens the mid-tones, as ImageMagick's -gamma does.
        table = [round(255 * (level / 255) ** (1 / gamma)) for level in range(256)]
        colour = colour.point(table * len(colour.getbands()))
    if alpha is not None:
        colour.putalpha(alpha)
    return colour
