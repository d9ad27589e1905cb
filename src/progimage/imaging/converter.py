"""Re-encode a stored image into another format, keeping every frame it can."""

import functools
import io
from collections.abc import Mapping
from typing import BinaryIO

from PIL import Image, ImageSequence

from ..exceptions import ConversionFailed, ImageTooLarge, UnsupportedImage
from ..options import NO_OPTIONS, ImageOptions
from . import colour, encoding, modes, processing, size_target, watermark
from .formats import FormatRegistry, ImageFormat
from .inspect import (
    DECODE_ERRORS, decode, frame_count, load, open_image, pillow_warnings, too_large,
)

ICO_MAX = 256
ICO_SIDES = (16, 24, 32, 48, 64, 128, 256)
# Formats whose frames are pages that may each have their own size.
PAGED_FORMATS = frozenset({"TIFF", "PDF"})


def convert(
    stream: BinaryIO,
    target: ImageFormat,
    registry: FormatRegistry,
    max_pixels: int,
    options: ImageOptions = NO_OPTIONS,
    mask: bytes | None = None,
    encoder: Mapping[str, object] | None = None,
    mark: bytes | None = None,
) -> bytes:
    """Encode the image in ``stream`` as ``target``, after the operations in
    ``options`` (``mask``, ``mark``: the stored bytes of the images ``mask=<ref>``
    and ``watermark=<ref>`` name), with ``encoder`` as the format's default save
    settings (the options override them).

    Multi-frame sources keep all frames, durations and loop count when the target
    can store several frames; otherwise the first frame is used. Operations apply
    to every frame.

    :raises UnsupportedImage: the stored image (or mask, or watermark) cannot be
        decoded.
    :raises ImageTooLarge: the stored image, the mask, the watermark or the result
        is above the pixel limit.
    :raises InvalidOptions: an option does not fit this image (a crop outside it).
    :raises ConversionFailed: the encoder refused the image.
    """
    stored_mask = _mask_source(mask, registry, max_pixels) if mask else None
    stored_mark = watermark_source(mark, registry, max_pixels) if mark else None
    with open_image(stream, registry, max_pixels) as image:
        return convert_image(
            image, registry.for_name(image.format), target, max_pixels,
            options, stored_mask, encoder, stored_mark,
        )


def convert_image(
    image: Image.Image,
    source: ImageFormat,
    target: ImageFormat,
    max_pixels: int,
    options: ImageOptions = NO_OPTIONS,
    mask: processing.MaskSource | None = None,
    encoder: Mapping[str, object] | None = None,
    mark: watermark.WatermarkSource | None = None,
) -> bytes:
    """``convert`` for an image already opened (within the pixel limit) from a file
    in the ``source`` format, or made in memory.

    :raises UnsupportedImage: the image cannot be decoded.
    :raises ImageTooLarge: the result or a step on the way is above the pixel limit.
    :raises InvalidOptions: an option does not fit this image (a crop outside it).
    :raises ConversionFailed: the encoder refused the image, or no quality makes it
        fit in ``max_bytes``.

    With ``max_bytes`` the result is an ``Encoded``, naming the quality chosen.
    """
    size_target.check(target, options)
    full_size = processing.oriented_size(image, options)
    processing.draft(image, options)
    frames = _decoded_frames(
        image, source, all_frames=target.multi_frame, max_pixels=max_pixels
    )
    if target.name not in PAGED_FORMATS and _sizes_differ(frames):
        frames = frames[:1]  # an animation needs one canvas size
    # An APNG's default image is for viewers without animation, not a frame.
    default_image = len(frames) > 1 and bool(image.info.get("default_image"))
    if default_image and target.name != "PNG":
        frames = frames[1:]
    params = {
        **(encoder or {}),
        **_animation_params(image, frames, default_image and target.name == "PNG"),
    }
    if len(frames) > 1:
        options = processing.settle_gravity(frames[0], options)
    frames = [
        processing.apply(
            frame, options, full_size=full_size, mask=mask,
            max_pixels=max_pixels // len(frames), mark=mark,
        )
        for frame in frames
    ]
    # The first frame holds the profile for all (later frames need not repeat it).
    profile = frames[0].info.get("icc_profile")
    if (
        options.icc == "srgb" or target.name not in encoding.ICC_FORMATS
        or colour.lost_in_adapting(
            profile, frames[0].mode, target.name, target.modes
        )
    ):
        # The profile goes: its colours go into the pixels first.
        frames = [colour.to_srgb(frame, profile) for frame in frames]
    fill = encoding.background(options)
    adapted = _fit_icon([modes.adapt(frame, target, fill) for frame in frames],
                        target, params, max_pixels)
    params.update(
        encoding.save_params(frames[0].info, adapted[0].mode, target, options)
    )
    if len(adapted) > 1:
        params["append_images"] = adapted[1:]
    if options.max_bytes is None:
        return _save(adapted[0], source, target, params)
    return size_target.highest_fitting(
        lambda level: _save(adapted[0], source, target, {**params, "quality": level}),
        int(params.get("quality", size_target.CEILING)),
        options.max_bytes,
    )


def _save(
    image: Image.Image, source: ImageFormat, target: ImageFormat,
    params: Mapping[str, object],
) -> bytes:
    """``image`` (and ``append_images``) encoded as ``target``.

    :raises ConversionFailed: the encoder refused it.
    """
    output = io.BytesIO()
    try:
        image.save(output, target.name, **params)
    except OverflowError:  # a side past a 16-bit header field (GIF, TGA, PCX...)
        raise ConversionFailed(
            f"{target.name} cannot store an image of {image.width} x {image.height} "
            "pixels: ask for a smaller w or h"
        ) from None
    except DECODE_ERRORS as error:
        raise ConversionFailed(
            f"the {source.name} image cannot be written as {target.name} "
            f"({type(error).__name__})"
        ) from None
    return output.getvalue()


def _mask_source(
    data: bytes, registry: FormatRegistry, max_pixels: int
) -> processing.MaskSource:
    """The stored mask, decoded once per frame size it is asked for, at the smallest
    draft scale (JPEG) and whole-factor reduction that still covers that size."""

    @functools.cache
    def shaped(size: tuple[int, int]) -> Image.Image:
        try:
            image = decode(io.BytesIO(data), registry, max_pixels, toward=size)
        except (UnsupportedImage, ImageTooLarge) as error:
            raise type(error)(f"parameter 'mask': {error.detail}") from None
        return processing.mask_shape(image, size)

    return shaped


def watermark_source(
    data: bytes, registry: FormatRegistry, max_pixels: int
) -> watermark.WatermarkSource:
    """The stored watermark, decoded once per width it is asked for (a JPEG at the
    smallest draft scale still that wide)."""

    @functools.cache
    def shaped(width: int | None) -> Image.Image:
        toward = (width, 1) if width else None
        try:
            image = decode(io.BytesIO(data), registry, max_pixels, toward=toward)
            return watermark.shape(image, width, max_pixels)
        except (UnsupportedImage, ImageTooLarge) as error:
            raise type(error)(f"parameter 'watermark': {error.detail}") from None

    return shaped


def _decoded_frames(
    image: Image.Image, source: ImageFormat, all_frames: bool, max_pixels: int
) -> list[Image.Image]:
    if not all_frames or frame_count(image) == 1:
        load(image, source)
        return [image]
    try:
        return _all_frames(image, source, max_pixels)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(too_large(max_pixels)) from None
    except DECODE_ERRORS as error:
        raise UnsupportedImage(
            f"a frame of the {source.name} image is damaged ({type(error).__name__})"
        ) from None


def _all_frames(
    image: Image.Image, source: ImageFormat, max_pixels: int
) -> list[Image.Image]:
    """Every frame, decoded; a later frame may be larger than the first (GIF), so
    the pixels are counted again as the frames come."""
    frames, pixels = [], 0
    with pillow_warnings():
        for frame in ImageSequence.Iterator(image):
            pixels += frame.width * frame.height
            if pixels > max_pixels:
                raise ImageTooLarge(too_large(max_pixels))
            load(frame, source)
            frames.append(frame.copy())
    return frames


def _fit_icon(
    frames: list[Image.Image],
    target: ImageFormat,
    params: dict[str, object],
    max_pixels: int,
) -> list[Image.Image]:
    """Shape frames for the icon formats, whose sizes are fixed by the format.

    :raises ImageTooLarge: the square canvas ICNS needs is above the pixel limit.
    """
    if target.name == "ICNS":
        side = max(frames[0].size)
        # A long thin image makes a canvas quadratic in its length.
        processing.check_size((side, side), max_pixels // len(frames))
        return [_square(frame) for frame in frames]
    if target.name == "ICO":
        params["sizes"] = _icon_sizes(frames[0].size)
        if frames[0].mode == "I;16":
            # The ICO writer resizes, which Pillow cannot do in 16-bit modes.
            return [modes.to_mode(frame, "L") for frame in frames]
    return frames


def _square(image: Image.Image) -> Image.Image:
    """Centre on a transparent square: ICNS only stores square icons."""
    side = max(image.size)
    if image.width == image.height:
        return image
    canvas = Image.new("RGBA", (side, side))
    canvas.paste(image.convert("RGBA"), ((side - image.width) // 2,
                                         (side - image.height) // 2))
    return canvas


def _icon_sizes(size: tuple[int, int]) -> list[tuple[int, int]]:
    """The standard icon sizes that fit, plus the image's own (ICO stops at 256)."""
    largest = Image.new("1", size)
    largest.thumbnail((ICO_MAX, ICO_MAX))
    standard = [(side, side) for side in ICO_SIDES if side <= min(largest.size)]
    return standard + [largest.size]


def _sizes_differ(frames: list[Image.Image]) -> bool:
    return len({frame.size for frame in frames}) > 1


def _animation_params(
    image: Image.Image, frames: list[Image.Image], default_image: bool = False
) -> dict[str, object]:
    """``save_all`` with per-frame durations and the loop count, for several frames;
    with ``default_image`` the first frame is an APNG's default image, outside the
    animation and its timeline."""
    if len(frames) == 1:
        return {}
    params: dict[str, object] = {"save_all": True}
    if default_image:
        params["default_image"] = True
    animated = frames[1:] if default_image else frames
    durations = [frame.info.get("duration") for frame in animated]
    if all(isinstance(duration, (int, float)) for duration in durations):
        # APNG gives fractional milliseconds; AVIF and WebP want whole ones.
        params["duration"] = [round(duration) for duration in durations]
    if "loop" in image.info:
        params["loop"] = image.info["loop"]
    return params
