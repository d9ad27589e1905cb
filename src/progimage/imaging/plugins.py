"""Pillow plugins beyond the built-in ones: HEIF/HEIC (phone photos) via pillow-heif,
a linear-time BLP encoder, QOI through libqoi and exact (lossless) AVIF; and a bound
on olefile's property vectors, which FlashPix (FPX) files are read with."""

import functools
import struct
from collections.abc import Callable
from typing import IO

from olefile import olefile
from PIL import AvifImagePlugin, BlpImagePlugin, Image, QoiImagePlugin
from pillow_heif import register_heif_opener

from . import lossless_avif

QOI_HEADER = 14  # bytes: magic, width, height, channels, colour space
QOI_END = bytes(7) + b"\x01"  # every QOI stream ends with these eight bytes
QOI_CHANNELS = {"RGB": 3, "RGBA": 4}
# Elements a property vector of an OLE file may have: FlashPix's have a few dozen.
MAX_OLE_VECTOR = 4096


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


class CompiledQoiDecoder(QoiImagePlugin.QoiDecoder):
    """Pillow's QOI decoder is Python, a pixel at a time (1.3 s for a 1 MP photo);
    libqoi (imagecodecs) decodes the same pixels in milliseconds. libqoi repeats the
    last pixel where a stream runs out, so a stream without QOI's end marker is
    refused here as truncated, as Pillow refuses one that runs out of pixels."""

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        """Every pixel at once from the rest of the file (after Pillow's header)."""
        assert self.fd is not None
        import imagecodecs  # loaded by the converters that read QOI only

        chunks = self.fd.read()
        if not chunks.endswith(QOI_END):
            raise OSError("image file is truncated (no QOI end marker)")
        header = _qoi_header(self.state.xsize, self.state.ysize, self.mode)
        self.set_as_raw(imagecodecs.qoi_decode(header + chunks).tobytes())
        return -1, 0


def save_qoi(image: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    """Pillow's QOI writer with the pixels encoded by libqoi (imagecodecs): Pillow's
    encoder is Python, a pixel at a time (0.8 s for 1 MP, 11 s for 15 MP), and
    libqoi writes the same bytes in milliseconds."""
    if image.mode not in QOI_CHANNELS:
        QoiImagePlugin._save(image, fp, filename)  # refuses the mode in its words
        return
    import imagecodecs  # loaded by the converters that write QOI only
    import numpy

    encoded = imagecodecs.qoi_encode(numpy.asarray(image))
    # Pillow's header: the colour space is "sRGB" (0) only when asked, else linear.
    linear = image.encoderinfo.get("colorspace") != "sRGB"
    fp.write(_qoi_header(*image.size, image.mode, linear))
    fp.write(memoryview(encoded)[QOI_HEADER:])


def _qoi_header(width: int, height: int, mode: str, linear: bool = False) -> bytes:
    return b"qoif" + struct.pack(">IIBB", width, height, QOI_CHANNELS[mode], linear)


def bounded_vectors(parse: Callable[..., object]) -> Callable[..., object]:
    """olefile 0.47 reads a property vector's length from the file and parses that
    many elements, past the end of the data too: a 9 KiB FPX upload looped for as
    long as it was let, growing a list by 11 MiB/s (olefile issues 162 and 170, open).
    A vector longer than its data or than ``MAX_OLE_VECTOR`` is refused instead;
    olefile skips the property and Pillow then refuses the file."""
    if getattr(parse, "bounded", False):
        return parse

    @functools.wraps(parse)
    def parse_bounded(ole, data: bytes, offset: int, property_id: int,
                      property_type: int, *args: object) -> object:
        if property_type & olefile.VT_VECTOR:
            length = olefile.i32(data, offset)
            if length > min(MAX_OLE_VECTOR, len(data) - offset):
                raise ValueError(f"a property vector of {length} elements")
        return parse(ole, data, offset, property_id, property_type, *args)

    parse_bounded.bounded = True  # type: ignore[attr-defined]
    return parse_bounded


def register() -> None:
    """Teach Pillow to read and write HEIF, to write BLP quickly, to read and write
    QOI quickly and AVIF exactly when ``lossless`` is asked; safe to call more than
    once.

    The format registry calls this before it reads Pillow's plugin tables, so the
    (cached) registry always includes HEIF, whichever code builds it first.
    """
    register_heif_opener()
    Image.register_encoder("BLP", LinearBlpEncoder)
    olefile.OleFileIO._parse_property = bounded_vectors(
        olefile.OleFileIO._parse_property
    )
    Image.register_decoder("qoi", CompiledQoiDecoder)
    Image.register_save("QOI", save_qoi)
    if AvifImagePlugin.SUPPORTED:  # a Pillow built without libavif cannot write AVIF
        Image.register_save("AVIF", lossless_avif.save)
