"""Re-encode a stored image into another format, keeping every frame it can."""

import io
from typing import BinaryIO

from PIL import Image, ImageSequence

from . import modes
from .exceptions import ConversionFailed, ImageTooLarge, UnsupportedImage
from .formats import FormatRegistry, ImageFormat
from .imaging import (
    DECODE_ERRORS, frame_count, load, open_image, pillow_warnings, too_large,
)


def convert(
    stream: BinaryIO, target: ImageFormat, registry: FormatRegistry, max_pixels: int
) -> bytes:
    """Encode the image in ``stream`` as ``target``.

    Multi-frame sources keep all frames, durations and loop count when the target
    can store several frames; otherwise the first frame is used.

    :raises UnsupportedImage: the stored image cannot be decoded.
    :raises ImageTooLarge: the stored image is above the pixel limit.
    :raises ConversionFailed: the encoder refused the image.
    """
    with open_image(stream, registry, max_pixels) as image:
        source = registry.for_name(image.format)
        frames = _decoded_frames(
            image, source, all_frames=target.multi_frame, max_pixels=max_pixels
        )
        params = _animation_params(image, frames)
        adapted = [modes.adapt(frame, target) for frame in frames]
        if len(adapted) > 1:
            params["append_images"] = adapted[1:]
        output = io.BytesIO()
        try:
            adapted[0].save(output, target.name, **params)
        except DECODE_ERRORS as error:
            raise ConversionFailed(
                f"the {source.name} image cannot be written as {target.name} "
                f"({type(error).__name__})"
            ) from None
    return output.getvalue()


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


def _animation_params(
    image: Image.Image, frames: list[Image.Image]
) -> dict[str, object]:
    """``save_all`` with per-frame durations and the loop count, for several frames."""
    if len(frames) == 1:
        return {}
    params: dict[str, object] = {"save_all": True}
    durations = [frame.info.get("duration") for frame in frames]
    if all(isinstance(duration, (int, float)) for duration in durations):
        params["duration"] = durations
    if "loop" in image.info:
        params["loop"] = image.info["loop"]
    return params
