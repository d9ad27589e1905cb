"""Re-encode a stored image into another format, keeping every frame it can."""

import io
from typing import BinaryIO

from PIL import Image, ImageSequence

from . import encoding, modes, processing
from .exceptions import ConversionFailed
from .formats import FormatRegistry, ImageFormat
from .imaging import DECODE_ERRORS, frame_count, load, open_image
from .options import NO_OPTIONS, ImageOptions


def convert(
    stream: BinaryIO,
    target: ImageFormat,
    registry: FormatRegistry,
    max_pixels: int,
    options: ImageOptions = NO_OPTIONS,
    mask: Image.Image | None = None,
) -> bytes:
    """Encode the image in ``stream`` as ``target``, after the operations in
    ``options`` (``mask``: the decoded image a ``mask=<ref>`` option names).

    Multi-frame sources keep all frames, durations and loop count when the target
    can store several frames; otherwise the first frame is used. Operations apply
    to every frame.

    :raises UnsupportedImage: the stored image cannot be decoded.
    :raises ImageTooLarge: the stored image or the result is above the pixel limit.
    :raises InvalidOptions: an option does not fit this image (a crop outside it).
    :raises ConversionFailed: the encoder refused the image.
    """
    with open_image(stream, registry, max_pixels) as image:
        source = registry.for_name(image.format)
        full_size = processing.oriented_size(image, options)
        processing.draft(image, options)
        frames = _decoded_frames(image, source, all_frames=target.multi_frame)
        params = _animation_params(image, frames)
        frames = [
            processing.apply(
                frame, options, full_size=full_size, mask=mask,
                max_pixels=max_pixels // len(frames),
            )
            for frame in frames
        ]
        fill = encoding.background(options)
        adapted = [modes.adapt(frame, target, fill) for frame in frames]
        params.update(
            encoding.save_params(frames[0].info, adapted[0].mode, target, options)
        )
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
