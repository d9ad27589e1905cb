"""Watermarks: a stored image laid over the result, placed, scaled, faded or tiled."""

from collections.abc import Callable

from PIL import Image, ImageChops

from ..exceptions import ImageTooLarge
from ..options import ImageOptions
from .gravity import COMPASS

#: The stored watermark (``watermark=<ref>``) as an RGBA image of the given width
#: (None: its own size), decoded on demand.
WatermarkSource = Callable[[int | None], Image.Image]


def shape(image: Image.Image, width: int | None, max_pixels: int) -> Image.Image:
    """The decoded watermark as RGBA, ``width`` wide (its aspect kept), or at its
    own size.

    :raises ImageTooLarge: a tall, thin watermark would grow above ``max_pixels``.
    """
    mark = image.convert("RGBA")
    if width is None or width == mark.width:
        return mark
    height = max(1, round(mark.height * width / mark.width))
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the watermark would grow to {width}x{height}, above the limit of "
            f"{max_pixels:,} pixels"
        )
    return mark.resize((width, height), Image.Resampling.LANCZOS)


def overlay(
    frame: Image.Image, options: ImageOptions, source: WatermarkSource
) -> Image.Image:
    """The frame with the watermark composited over it, as RGB, or RGBA if the
    frame has alpha (where it is transparent, the watermark still shows)."""
    width = (
        max(1, round(frame.width * options.wm_scale)) if options.wm_scale else None
    )
    mark = source(width)
    if options.wm_opacity < 1:
        mark = mark.copy()
        fade = Image.new("L", mark.size, round(options.wm_opacity * 255))
        mark.putalpha(ImageChops.multiply(mark.getchannel("A"), fade))
    layer = Image.new("RGBA", frame.size)
    if options.wm_tile:
        _tile(layer, mark, options.wm_offset or (0, 0))
    else:
        layer.paste(mark, _position(frame.size, mark.size, options))
    has_alpha = frame.mode in ("LA", "RGBA")
    composed = Image.alpha_composite(frame.convert("RGBA"), layer)
    composed.info = dict(frame.info)
    return composed if has_alpha else composed.convert("RGB")


def _position(
    size: tuple[int, int], mark: tuple[int, int], options: ImageOptions
) -> tuple[int, int]:
    """Top left corner of the watermark: ``wm_gravity`` places it, ``wm_offset``
    moves it inward from the edges it names (right and down from a centre)."""
    along = COMPASS[options.wm_gravity]
    offset = options.wm_offset or (0, 0)
    corner = []
    for fraction, whole, side, shift in zip(along, size, mark, offset, strict=True):
        inward = -shift if fraction == 1.0 else shift
        corner.append(round(fraction * (whole - side)) + inward)
    return corner[0], corner[1]


def _tile(layer: Image.Image, mark: Image.Image, gap: tuple[int, int]) -> None:
    """Fill ``layer`` with copies of ``mark`` from the top left, ``gap`` apart.

    One cell is pasted, then the filled part is copied onto the rest, doubling
    each time: a tiny watermark costs a few copies of the layer, not one paste
    per tile.
    """
    cell = Image.new("RGBA", (
        min(mark.width + gap[0], layer.width), min(mark.height + gap[1], layer.height)
    ))
    cell.paste(mark, (0, 0))
    layer.paste(cell, (0, 0))
    filled = cell.width
    while filled < layer.width:
        layer.paste(layer.crop((0, 0, filled, cell.height)), (filled, 0))
        filled *= 2
    filled = cell.height
    while filled < layer.height:
        layer.paste(layer.crop((0, 0, layer.width, filled)), (0, filled))
        filled *= 2
