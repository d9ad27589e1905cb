"""The BlurHash of an 8-bit RGB image and its mean colour, computed with numpy."""

import math

import numpy
from PIL import Image

BASE83 = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    "#$%*+,-.:;=?@[]^_{|}~"
)


def _srgb_to_linear(value: int) -> float:
    """The reference encoder's sRGB to linear light, for one 8-bit value."""
    fraction = value / 255
    if fraction <= 0.04045:
        return fraction / 12.92
    return ((fraction + 0.055) / 1.055) ** 2.4


# Linear light for each 8-bit value: looked up once per pixel, where the reference
# encoder (blurhash-python's C) raises to the power 2.4 for every pixel of every
# component, which made the hash 0.5 ms of each upload's check.
LINEAR = numpy.array([_srgb_to_linear(value) for value in range(256)])


def encode(image: Image.Image, x_components: int, y_components: int) -> str:
    """The BlurHash of the RGB ``image`` with ``x_components`` x ``y_components``
    (1-9 each), as the reference encoder (woltapp/blurhash's C) computes it.

    :raises ValueError: a component count outside 1-9, or an image not in RGB.
    """
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("BlurHash components are 1-9 along each side")
    if image.mode != "RGB":
        raise ValueError(f"a BlurHash is computed from RGB, not {image.mode}")
    pixels = LINEAR[numpy.asarray(image)]
    height, width = pixels.shape[:2]
    across = numpy.cos(
        math.pi * numpy.arange(x_components)[:, None] * numpy.arange(width) / width
    )
    down = numpy.cos(
        math.pi * numpy.arange(y_components)[:, None] * numpy.arange(height) / height
    )
    # factors[y, x] = the mean over pixels of colour x basis (rows first, then
    # columns: two matrix products); AC terms count twice.
    rows = (down @ pixels.reshape(height, width * 3)).reshape(-1, width, 3)
    factors = (across @ rows).reshape(-1, 3) / (width * height)
    factors[1:] *= 2
    return _text(factors, x_components, y_components)


def _text(factors: numpy.ndarray, x_components: int, y_components: int) -> str:
    """The BlurHash characters of the components ``factors`` (DC first)."""
    dc, ac = factors[0], factors[1:]
    # The AC components are scaled by their largest magnitude, itself quantised.
    quantised = 0
    if len(ac):
        largest = float(numpy.abs(ac).max())
        quantised = int(max(0, min(82, math.floor(largest * 166 - 0.5))))
    red, green, blue = (_linear_to_srgb(value) for value in dc)
    text = (
        _base83(x_components - 1 + (y_components - 1) * 9, 1)
        + _base83(quantised, 1)
        + _base83((red << 16) + (green << 8) + blue, 4)
    )
    scaled = ac / ((quantised + 1) / 166)
    roots = numpy.copysign(numpy.sqrt(numpy.abs(scaled)), scaled)
    steps = numpy.clip(numpy.floor(roots * 9 + 9.5), 0, 18).astype(int)
    for red, green, blue in steps.tolist():
        text += _base83(red * 19 * 19 + green * 19 + blue, 2)
    return text


def _linear_to_srgb(value: float) -> int:
    value = max(0.0, min(1.0, float(value)))
    if value <= 0.0031308:
        return int(value * 12.92 * 255 + 0.5)
    return int((1.055 * value ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _base83(value: int, length: int) -> str:
    return "".join(
        BASE83[value // 83 ** (length - place) % 83] for place in range(1, length + 1)
    )


def mean_colour(image: Image.Image) -> tuple[float, float, float]:
    """The mean of each band of the RGB ``image`` (as ``ImageStat.Stat().mean``)."""
    sums = numpy.asarray(image).reshape(-1, 3).sum(axis=0, dtype=numpy.int64)
    count = image.width * image.height
    return (sums[0] / count, sums[1] / count, sums[2] / count)
