"""Re-encode a stored image into another format, keeping every frame it can."""

import io
from collections.abc import Mapping
from typing import BinaryIO

from PIL import Image, ImageSequence

from . import modes
from .exceptions import ConversionFailed
from .formats import FormatRegistry, ImageFormat
from .imaging import DECODE_ERRORS, frame_count, load, open_image


def convert(
    stream: BinaryIO,
    target: ImageFormat,
    registry: FormatRegistry,
    max_pixels: int,
    encoder: Mapping[str, object] | None = None,
) -> bytes:
    """Encode the image in ``stream`` as ``target``, with ``encoder`` save settings.

    Multi-frame sources keep all frames, durations and loop count when the target
    can store several frames; otherwise the first frame is used.

    :raises UnsupportedImage: the stored image cannot be decoded.
    :raises ImageTooLarge: the stored image is above the pixel limit.
    :raises ConversionFailed: the encoder refused the image.
    """
    with open_image(stream, registry, max_pixels) as image:
        source = registry.for_name(image.format)
        frames = _decoded_frames(image, source, all_frames=target.multi_frame)
        params = {**(encoder or {}), **_animation_params(image, frames)}
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
    image: Image.Image, source: ImageFormat, all_frames: bool
) -> list[Image.Image]:
    if not all_frames or frame_count(image) == 1:
        load(image, source)
        return [image]
    frames = []
    for frame in ImageSequence.Iterator(image):
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
