"""``max_bytes``: the highest encoder quality whose result fits in a number of bytes."""

from collections.abc import Callable

from ..exceptions import ConversionFailed, InvalidOptions
from ..options import ImageOptions
from .encoding import QUALITY_FORMATS
from .formats import ImageFormat
from .jobs import Encoded

# The quality searched down from when neither ``q`` nor a setting gives one (HEIF).
CEILING = 100
LOWEST = 1


def check(target: ImageFormat, options: ImageOptions) -> None:
    """Call before any decoding: a size target needs a format with a quality.

    :raises InvalidOptions: ``max_bytes`` for a format without one (PNG, GIF...).
    """
    if options.max_bytes is not None and target.name not in QUALITY_FORMATS:
        raise InvalidOptions(
            "parameter 'max_bytes': only for formats with a quality (JPEG, WebP, "
            f"AVIF, HEIF), not {target.name}"
        )


def highest_fitting(
    save: Callable[[int], bytes], ceiling: int, limit: int
) -> Encoded:
    """The result of ``save(quality)`` at the highest quality from 1 to ``ceiling``
    that is at most ``limit`` bytes, found by bisection: the ceiling first (one
    encoding when it fits), then the lowest, then about log2(ceiling) more.

    Sizes grow with quality almost everywhere; where they do not, the quality
    found still fits, and the next one up did not.

    :raises ConversionFailed: even the lowest quality is larger than ``limit``.
    """
    data = save(ceiling)
    if len(data) <= limit:
        return Encoded.at(data, ceiling)
    fitting, too_large = LOWEST, ceiling
    data = save(fitting)
    if len(data) > limit:
        raise ConversionFailed(
            f"parameter 'max_bytes': even at quality {LOWEST} the result is "
            f"{len(data):,} bytes, above {limit:,}"
        )
    while too_large - fitting > 1:
        middle = (fitting + too_large) // 2
        attempt = save(middle)
        if len(attempt) <= limit:
            fitting, data = middle, attempt
        else:
            too_large = middle
    return Encoded.at(data, fitting)
