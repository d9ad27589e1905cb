"""The pixel operations of a request, in their fixed order, applied to one frame.

The order is: orient (EXIF), trim, crop, resize, rotate, flip, filters (brightness,
contrast, saturation, gamma, grayscale, sepia, blur, sharpen, pixelate), watermark,
mask, pad.
Conversion to sRGB (``icc``, see ``colour``) and encoding come after, in the
converter. Every step that can enlarge the image checks the result against the pixel
limit before doing the work.
"""

import math
from collections.abc import Callable
from dataclasses import replace

from PIL import Image, ImageChops, ImageColor, ImageDraw, ImageFilter, ImageOps

from ..exceptions import ImageTooLarge, InvalidOptions
from ..options import ImageOptions
from . import adjust, borders, gravity, modes, watermark
from .inspect import orientation
from .jobs import JPEG_FORMATS

# Clockwise angles that are exact transpositions (Pillow's names count anticlockwise).
RIGHT_ANGLES = {
    90.0: Image.Transpose.ROTATE_270,
    180.0: Image.Transpose.ROTATE_180,
    270.0: Image.Transpose.ROTATE_90,
}
FLIPS = {
    "h": (Image.Transpose.FLIP_LEFT_RIGHT,),
    "v": (Image.Transpose.FLIP_TOP_BOTTOM,),
    "hv": (Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM),
}
# Orientations 5-8 turn the image a quarter: width and height swap.
SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
# Modes every step handles directly; others are converted first.
DIRECT_MODES = frozenset({"L", "LA", "RGB", "RGBA"})
# 16- and 32-bit modes keep their depth through geometry, not through filters.
DEEP_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
# Shrink by whole factors first, then resample the last step (as thumbnail() does).
REDUCING_GAP = 2.0
# Pillow's reduce() has no 16-bit modes: these resample in one step.
UNREDUCIBLE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
# A JPEG decodes at the smallest 1/2, 1/4 or 1/8 scale that is still no smaller than
# the result, as libvips' shrink-on-load does: a 256 px thumbnail of a 1 MP photo then
# takes 4 ms instead of 7 ms, at 42 dB PSNR against a full decode (thumbnail()'s
# 2x margin gives 49 dB, a difference no eye sees).
DRAFT_GAP = 1.0
# Masks are drawn this many times larger, then reduced, for smooth edges.
SUPERSAMPLE = 4
SUPERSAMPLE_PIXELS = 16_000_000
#: A stored mask (``mask=<ref>``) for a frame of the given size, decoded on demand:
#: the alpha it gives, as an "L" image (see ``mask_shape``).
MaskSource = Callable[[tuple[int, int]], Image.Image]
# What the encoder carries over, whatever the steps kept of ``info``.
METADATA = ("icc_profile", "exif", "xmp")
WHITE = (255, 255, 255, 255)
TRANSPARENT = (0, 0, 0, 0)
SEPIA = (
    0.393, 0.769, 0.189, 0,
    0.349, 0.686, 0.168, 0,
    0.272, 0.534, 0.131, 0,
)


def oriented_size(image: Image.Image, options: ImageOptions) -> tuple[int, int]:
    """The image's size once its EXIF orientation is applied (if it will be)."""
    if options.orient and orientation(image) in SWAPPING_ORIENTATIONS:
        return image.height, image.width
    return image.size


def draft(image: Image.Image, options: ImageOptions) -> None:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 scale when the result is smaller anyway.

    Call before the image is loaded. Skipped with ``crop``, whose coordinates are
    in full-size pixels, for multi-frame files, and for other formats, whose frame
    count may cost a read of their whole file (PSD layers) for nothing.
    """
    if image.format not in JPEG_FORMATS or options.crop or not (
        options.width or options.height
    ):
        return
    if getattr(image, "n_frames", 1) > 1:
        return  # MPO: frames after the first are decoded at full size anyway
    size = oriented_size(image, options)
    width, height = _scaled_size(size, options)
    if size != image.size:
        width, height = height, width
    width, height = round(width * DRAFT_GAP), round(height * DRAFT_GAP)
    if width < image.width and height < image.height:
        image.draft(image.mode, (width, height))


def apply(
    frame: Image.Image,
    options: ImageOptions,
    *,
    full_size: tuple[int, int],
    mask: MaskSource | None,
    max_pixels: int,
    mark: watermark.WatermarkSource | None = None,
) -> Image.Image:
    """Run every requested operation on one frame, in the documented order
    (``mask``, ``mark``: the stored images ``mask=<ref>`` and ``watermark=<ref>``
    name).

    ``full_size`` is the oriented size before any draft decoding, so that sizes
    come out the same whether or not the decoder reduced the frame.

    :raises InvalidOptions: the crop reaches outside the image.
    :raises ImageTooLarge: the result would be above ``max_pixels``.
    """
    if options.orient and orientation(frame) != 1:
        frame = ImageOps.exif_transpose(frame)
    metadata = {key: frame.info[key] for key in METADATA if key in frame.info}
    frame = _prepare(frame, options)
    if options.trim is not None:
        frame = borders.trim(frame, options.trim)
        full_size = frame.size
    if options.crop:
        frame = _crop(frame, options.crop)
        full_size = frame.size
    if options.width or options.height:
        frame = _resize(frame, options, full_size, max_pixels)
    if options.rotate:
        frame = _rotate(frame, options.rotate, options.background, max_pixels)
    for method in FLIPS.get(options.flip, ()):
        frame = frame.transpose(method)
    frame = _filter(frame, options)
    if mark is not None:
        frame = watermark.overlay(frame, options, mark)
    if options.mask:
        frame = _mask(frame, options.mask, mask, max_pixels)
    if options.pad:
        frame = _pad(frame, options, max_pixels)
    frame.info.update(metadata)
    return frame


def _prepare(frame: Image.Image, options: ImageOptions) -> Image.Image:
    """Bring the frame into a mode the requested steps can work in."""
    if frame.mode in DIRECT_MODES or not options.changes_pixels:
        return frame
    geometry_only = not (
        options.rotate not in (0.0, *RIGHT_ANGLES) or options.mask or options.pad
        or options.trim is not None or options.fit == "pad" or options.adjusts_colour
        or options.pixelate or options.watermark
        or options.grayscale or options.sepia or options.blur or options.sharpen
    )
    if frame.mode in DEEP_MODES:
        return frame if geometry_only else modes.to_mode(frame, "L")
    # Premultiplied and other colour spaces: Pillow converts La only to LA.
    nearest = modes.CANONICAL.get(frame.mode, frame.mode)
    if nearest in DIRECT_MODES:
        return frame.convert(nearest)
    if frame.mode == "1":
        return frame.convert("L")
    return frame.convert("RGBA" if frame.has_transparency_data else "RGB")


def _crop(frame: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    x, y, width, height = box
    if x + width > frame.width or y + height > frame.height:
        raise InvalidOptions(
            f"parameter 'crop': {x},{y},{width},{height} reaches outside the "
            f"{frame.width}x{frame.height} image"
        )
    return frame.crop((x, y, x + width, y + height))


def _scaled_size(size: tuple[int, int], options: ImageOptions) -> tuple[int, int]:
    """The size the whole image is scaled to (for ``cover``, before the centre cut)."""
    width, height = size
    scales = [
        side / whole
        for side, whole in ((options.width, width), (options.height, height))
        if side
    ]
    if options.fit == "fill" and len(scales) == 2:
        return options.width, options.height
    scale = max(scales) if options.fit == "cover" else min(scales)
    if options.fit == "inside":
        scale = min(scale, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _resize(
    frame: Image.Image,
    options: ImageOptions,
    full_size: tuple[int, int],
    max_pixels: int,
) -> Image.Image:
    box = (0.0, 0.0, float(frame.width), float(frame.height))
    size = _scaled_size(full_size, options)
    if options.fit == "cover" and options.width and options.height:
        size = (options.width, options.height)
        box = gravity.cover_box(frame, size, options.gravity, options.focus)
    check_size(size, max_pixels)
    if size != frame.size:
        gap = None if frame.mode in UNREDUCIBLE_MODES else REDUCING_GAP
        frame = frame.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=gap)
    if options.fit == "pad" and options.width and options.height:
        box_size = (options.width, options.height)
        check_size(box_size, max_pixels)
        offset = ((box_size[0] - size[0]) // 2, (box_size[1] - size[1]) // 2)
        frame = borders.extend(frame, box_size, offset, options.background)
    return frame


def _pad(frame: Image.Image, options: ImageOptions, max_pixels: int) -> Image.Image:
    """Add ``pad`` pixels around the frame, filled with ``bg``."""
    top, right, bottom, left = options.pad or (0, 0, 0, 0)
    size = (frame.width + left + right, frame.height + top + bottom)
    check_size(size, max_pixels)
    return borders.extend(frame, size, (left, top), options.background)


def settle_gravity(frame: Image.Image, options: ImageOptions) -> ImageOptions:
    """``gravity=smart`` or ``face`` chosen once, on this (first) frame, as a focus
    point, so that every frame of an animation is cut alike; other options as they
    are.

    :raises InvalidOptions: ``gravity=face`` without the face detector installed.
    """
    if options.gravity not in ("smart", "face") or options.fit != "cover":
        return options
    if not (options.width and options.height):
        return options
    if options.orient and orientation(frame) != 1:
        frame = ImageOps.exif_transpose(frame)
    if options.crop:
        frame = _crop(frame, options.crop)
    focus = gravity.settled_focus(
        frame, (options.width, options.height), options.gravity
    )
    return replace(options, gravity="focus", focus=focus)


def _rotate(
    frame: Image.Image,
    angle: float,
    background: tuple[int, int, int, int] | None,
    max_pixels: int,
) -> Image.Image:
    """Turn clockwise: right angles exactly, others on a larger canvas filled."""
    if angle in RIGHT_ANGLES:
        return frame.transpose(RIGHT_ANGLES[angle])
    radians = math.radians(angle)
    cos, sin = abs(math.cos(radians)), abs(math.sin(radians))
    check_size(
        (
            math.ceil(frame.width * cos + frame.height * sin),
            math.ceil(frame.width * sin + frame.height * cos),
        ),
        max_pixels,
    )
    if background is None:
        background = TRANSPARENT if frame.mode in ("LA", "RGBA") else WHITE
    if background[3] < 255 and frame.mode in ("L", "RGB"):
        frame = frame.convert(f"{frame.mode}A")
    fill = ImageColor.getcolor("#" + bytes(background).hex(), frame.mode)
    return frame.rotate(
        -angle, Image.Resampling.BICUBIC, expand=True, fillcolor=fill
    )


def _filter(frame: Image.Image, options: ImageOptions) -> Image.Image:
    """Colour factors, grayscale, sepia, blur, sharpen: each only if asked for."""
    if options.adjusts_colour:
        frame = adjust.adjust(
            frame, options.brightness, options.contrast, options.saturation,
            options.gamma,
        )
    if options.grayscale and frame.mode in ("RGB", "RGBA"):
        frame = frame.convert("LA" if frame.mode == "RGBA" else "L")
    if options.sepia:
        frame = _sepia(frame)
    if options.blur:
        frame = frame.filter(ImageFilter.GaussianBlur(options.blur))
    if options.sharpen:
        frame = frame.filter(
            ImageFilter.UnsharpMask(
                radius=2, percent=round(options.sharpen * 100), threshold=0
            )
        )
    if options.pixelate > 1:
        frame = _pixelate(frame, options.pixelate)
    return frame


def _pixelate(frame: Image.Image, block: int) -> Image.Image:
    """Average each ``block`` x ``block`` square (smaller ones at the right and
    bottom edges) and fill it with that colour; the size stays."""
    small = frame.reduce(block)
    # Each output pixel takes the block it lies in: exact squares from the top left.
    return small.resize(
        frame.size, Image.Resampling.NEAREST,
        box=(0, 0, frame.width / block, frame.height / block),
    )


def _sepia(frame: Image.Image) -> Image.Image:
    alpha = frame.getchannel("A") if frame.mode in ("LA", "RGBA") else None
    toned = frame.convert("RGB").convert("RGB", SEPIA)
    if alpha is not None:
        toned.putalpha(alpha)
    return toned


def _mask(
    frame: Image.Image, mask: str, stored: MaskSource | None, max_pixels: int
) -> Image.Image:
    """Multiply the frame's alpha by the mask, adding an alpha channel if needed."""
    if frame.mode not in ("LA", "RGBA"):
        frame = frame.convert("LA" if frame.mode == "L" else "RGBA")
    if stored is not None:
        alpha = stored(frame.size).resize(frame.size, Image.Resampling.LANCZOS)
    else:
        alpha = _drawn_mask(frame.size, mask, max_pixels)
    frame.putalpha(ImageChops.multiply(frame.getchannel("A"), alpha))
    return frame


def mask_shape(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The alpha a stored image gives as a mask (its alpha channel, else its
    luminance), shrunk by whole factors toward ``size`` (as ``_resize`` does) so
    that only a small image is resampled."""
    shape = (
        image.convert("RGBA").getchannel("A")
        if image.has_transparency_data else image.convert("L")
    )
    factor = (
        max(1, int(shape.width // (size[0] * REDUCING_GAP))),
        max(1, int(shape.height // (size[1] * REDUCING_GAP))),
    )
    return shape.reduce(factor) if factor != (1, 1) else shape


def _drawn_mask(size: tuple[int, int], mask: str, max_pixels: int) -> Image.Image:
    """A circle or rounded rectangle, white on black, with smooth edges where the
    larger canvas they are drawn on fits the pixel limit."""
    width, height = size
    budget = min(SUPERSAMPLE_PIXELS, max_pixels)
    factor = SUPERSAMPLE if width * height * SUPERSAMPLE**2 <= budget else 1
    canvas = Image.new("L", (width * factor, height * factor), 0)
    draw = ImageDraw.Draw(canvas)
    if mask == "circle":
        diameter = min(width, height) * factor
        left = (canvas.width - diameter) // 2
        top = (canvas.height - diameter) // 2
        draw.ellipse((left, top, left + diameter - 1, top + diameter - 1), fill=255)
    else:
        radius = min(int(mask.partition(":")[2]), min(width, height) // 2)
        draw.rounded_rectangle(
            (0, 0, canvas.width - 1, canvas.height - 1), radius * factor, fill=255
        )
    return canvas.reduce(factor) if factor > 1 else canvas


def check_size(size: tuple[int, int], max_pixels: int) -> None:
    """Call before making an image of ``size``.

    :raises ImageTooLarge: an image of ``size`` would be above ``max_pixels``.
    """
    if size[0] * size[1] > max_pixels:
        raise ImageTooLarge(
            f"the image would grow to {size[0]}x{size[1]}, above the limit of "
            f"{max_pixels:,} pixels per frame"
        )
