"""Encoder settings per output format: one table, chosen for speed at a fair size.

Measured on a 1-megapixel photo on a 2-core Xeon (Pillow 13; encode time, size):

======  ==========================  =========  =======  ====================
format  setting                     time       size     Pillow's default
======  ==========================  =========  =======  ====================
PNG     compress_level=3            90-240 ms  +5-12%   level 6: 220-800 ms
WebP    quality=80, method=2        30-40 ms   +1-5%    method 4: 75-100 ms
JPEG    quality=85, no optimize,    3 ms       +5%      optimize: 7 ms,
        baseline                                        progressive: 15 ms
======  ==========================  =========  =======  ====================

A variant is encoded once and then served from the cache, but the first request waits
for the encoder, so these favour speed where the size cost is a few percent. Every
value can be overridden with a ``PROGIMAGE_*`` setting (see ``config.py``).
"""

from .config import Settings


def encoder_params(settings: Settings) -> dict[str, dict[str, object]]:
    """Keyword arguments for ``Image.save``, by Pillow format name."""
    return {
        "JPEG": {
            "quality": settings.jpeg_quality,
            "optimize": settings.jpeg_optimize,
            "progressive": settings.jpeg_progressive,
        },
        "PNG": {"compress_level": settings.png_compress_level},
        "WEBP": {"quality": settings.webp_quality, "method": settings.webp_method},
    }
