"""Borders: trim uniform edges off, pad around, letterbox to an exact box."""

from PIL import Image, ImageChops, ImageColor

WHITE = (255, 255, 255, 255)
TRANSPARENT = (0, 0, 0, 0)

Colour = tuple[int, int, int, int]


def trim(frame: Image.Image, threshold: int) -> Image.Image:
    """Cut off the borders of the top left pixel's colour: every edge row and
    column whose channels all lie within ``threshold`` of it. A frame of one colour
    stays as it is (nothing would be left)."""
    rgba = frame.convert("RGBA")
    corner = Image.new("RGBA", rgba.size, rgba.getpixel((0, 0)))
    difference = ImageChops.difference(rgba, corner)
    strongest = difference.getchannel(0)
    for channel in difference.split()[1:]:
        strongest = ImageChops.lighter(strongest, channel)
    box = strongest.point(lambda level: 255 if level > threshold else 0).getbbox()
    return frame.crop(box) if box else frame


def fill_colour(frame: Image.Image, background: Colour | None) -> Colour:
    """``bg``, else transparent for a frame with alpha, white for one without."""
    if background is not None:
        return background
    return TRANSPARENT if frame.mode in ("LA", "RGBA") else WHITE


def extend(
    frame: Image.Image,
    size: tuple[int, int],
    offset: tuple[int, int],
    background: Colour | None,
) -> Image.Image:
    """The frame on a canvas of ``size`` filled with ``background``, its top left
    corner at ``offset``; alpha is added when the fill is not opaque.

    The caller checks ``size`` against the pixel limit first.
    """
    colour = fill_colour(frame, background)
    if colour[3] < 255 and frame.mode in ("L", "RGB"):
        frame = frame.convert(f"{frame.mode}A")
    canvas = Image.new(
        frame.mode, size, ImageColor.getcolor("#" + bytes(colour).hex(), frame.mode)
    )
    canvas.paste(frame, offset)
    canvas.info = dict(frame.info)
    return canvas
