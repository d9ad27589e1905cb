"""Pillow plugins beyond the built-in ones: HEIF/HEIC (phone photos) via pillow-heif."""

from pillow_heif import register_heif_opener


def register() -> None:
    """Teach Pillow to read and write HEIF; safe to call more than once.

    The format registry calls this before it reads Pillow's plugin tables, so the
    (cached) registry always includes HEIF, whichever code builds it first.
    """
    register_heif_opener()
