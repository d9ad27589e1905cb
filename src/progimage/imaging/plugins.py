"""Pillow plugins beyond the built-in ones: HEIF/HEIC (phone photos) via pillow-heif,
a linear-time BLP encoder and exact (lossless) AVIF."""

import struct

from PIL import AvifImagePlugin, BlpImagePlugin, Image
from pillow_heif import register_heif_opener

from . import lossless_avif


class LinearBlpEncoder(BlpImagePlugin.BLPEncoder):
    """Pillow 13's BLP encoder appends pixels to a bytes object one at a time, which
    is quadratic: minutes for a few megapixels. This writes the same bytes at once."""

    def encode(self, bufsize: int) -> tuple[int, int, bytes]:
        """The palette, offsets and indices that Pillow's encoder writes."""
        assert self.im is not None
        width, height = self.im.size
        header = struct.pack("<16I", 20 + 16 * 4 * 2 + 256 * 4, *((0,) * 15))
        header += struct.pack("<16I", width * height, *((0,) * 15))
        indices = bytes(self.im)  # a palette image's core holds one byte a pixel
        data = header + self._write_palette() + indices
        return len(data), 0, data


def register() -> None:
    """Teach Pillow to read and write HEIF, to write BLP quickly and AVIF exactly
    when ``lossless`` is asked; safe to call more than once.

    The format registry calls this before it reads Pillow's plugin tables, so the
    (cached) registry always includes HEIF, whichever code builds it first.
    """
    register_heif_opener()
    Image.register_encoder("BLP", LinearBlpEncoder)
    if AvifImagePlugin.SUPPORTED:  # a Pillow built without libavif cannot write AVIF
        Image.register_save("AVIF", lossless_avif.save)
