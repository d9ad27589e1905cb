"""An APNG's frames counted from its chunks: the count in its header is only a claim."""

import io
import struct
from typing import BinaryIO

from PIL import Image

from ..exceptions import UnsupportedImage

SIGNATURE_LENGTH = 8
CHUNK_HEADER = struct.Struct(">I4s")
CRC_LENGTH = 4


def check_frames(image: Image.Image) -> None:
    """For an APNG just opened, compare the frame count of its ``acTL`` chunk with
    the frame control chunks (``fcTL``, one per frame) that the file really holds.

    Call after the declared count passed the pixel limit: only chunk headers are
    read, and the count stops one past the declared one. The stream's position is
    kept for Pillow, which reads on from it.

    :raises UnsupportedImage: the file holds another number of frames.
    """
    if image.format != "PNG" or getattr(image, "n_frames", 1) == 1:
        return
    # An IDAT image outside the animation is counted by Pillow, not by acTL.
    declared = image.n_frames - bool(image.info.get("default_image"))
    stream = image.fp
    position = stream.tell()
    try:
        found = _count_frame_controls(stream, declared + 1)
    finally:
        stream.seek(position)
    if found != declared:
        raise UnsupportedImage(
            f"the APNG image declares {declared:,} frames but holds {found:,}"
        )


def _count_frame_controls(stream: BinaryIO, at_most: int) -> int:
    """How many ``fcTL`` chunks come before ``IEND`` or the end, up to ``at_most``."""
    stream.seek(SIGNATURE_LENGTH)
    count = 0
    while count < at_most:
        header = stream.read(CHUNK_HEADER.size)
        if len(header) < CHUNK_HEADER.size:
            break
        length, kind = CHUNK_HEADER.unpack(header)
        if kind == b"IEND":
            break
        count += kind == b"fcTL"
        stream.seek(length + CRC_LENGTH, io.SEEK_CUR)
    return count
