"""A JPEG read from its markers, without decoding it: its scans counted, and its
first image checked whole (every segment complete up to its end-of-image marker).

Decoding every byte at upload found nothing more than this walk does (docs/security.md
has the comparison): a cut-off file has no end marker, and bytes damaged inside the
scan data decode to wrong colours, which libjpeg only warns of. The walk takes 0.2 ms
for a 1 MP photo, the decode at 1/8 scale 2 ms.
"""

import re

import numpy

# A marker: one or more 0xFF, then a byte that is not a stuffed zero (0x00), a fill
# byte or a restart marker (RST0-7, which sit inside entropy-coded data).
MARKER = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")
START_OF_IMAGE, END_OF_IMAGE, START_OF_SCAN = 0xD8, 0xD9, 0xDA
HUFFMAN, QUANTISATION, RESTART_INTERVAL = 0xC4, 0xDB, 0xDD
# Markers that stand alone, without a length field: TEM, SOI, EOI.
STANDALONE = frozenset({0x01, START_OF_IMAGE, END_OF_IMAGE})
# Frames the walk vouches for: Huffman-coded baseline, extended and progressive, the
# frames cameras and encoders write. Other frame types (lossless, arithmetic coding,
# hierarchical) are left to a decode.
CHECKED_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
OTHER_FRAMES = frozenset({0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Component counts Pillow has a mode for: L, YCbCr or RGB, CMYK or YCCK.
COMPONENTS = frozenset({1, 3, 4})
CUT_OFF = "truncated"
# Bytes searched with MARKER for the next marker (a header segment's is near; a
# regular expression is quicker over a few bytes), and at most in one step of the
# array search after that (memory stays bounded whatever the file holds).
FIRST_WINDOW, WINDOW = 256, 64 * 1024
# Most markers walked (a progressive JPEG has about 30): a file of millions of empty
# segments would cost seconds of Python, where libjpeg skips them in C; past this
# the walk leaves the file to a decode.
MAX_MARKERS = 1000


class DamagedJpeg(ValueError):
    """The markers show the JPEG cut off or malformed; the message says how."""


def has_more_scans(data: bytes, than: int) -> bool:
    """Whether the JPEG (or MPO) ``data`` holds more than ``than`` scans.

    Entropy-coded data never holds the bytes FF DA (each FF in it is followed by 00
    or a restart number), so counting them bounds the scans from above at memory
    speed; only a file over that bound is walked marker by marker, since segment
    payloads (an EXIF thumbnail, ICC data) may hold the bytes too.
    """
    if start_of_scan_bytes(data) <= than:
        return False
    return count_scans(data, at_most=than) > than


def start_of_scan_bytes(data: bytes) -> int:
    """How often the bytes FF DA occur in ``data`` (as ``data.count(b"\\xff\\xda")``).

    Found as the DA bytes (one in 256 of entropy-coded data) preceded by FF:
    bytes.count's search for the pair took 230 µs of a 1 MP JPEG's upload check,
    this 40 µs.
    """
    values = numpy.frombuffer(data, numpy.uint8)
    after = numpy.flatnonzero(values[1:] == START_OF_SCAN)
    return int(numpy.count_nonzero(values[after] == 0xFF))


def count_scans(data: bytes, at_most: int) -> int:
    """How many scans (SOS segments) ``data`` holds, counting no further than one
    past ``at_most``.

    Every image of the file counts (an MPO holds several); a segment's length is
    trusted to skip its payload, so an EXIF thumbnail's scans do not count.
    """
    scans, position = 0, 0
    while scans <= at_most:
        found = MARKER.search(data, position)
        if found is None:
            break
        marker, position = data[found.end() - 1], found.end()
        if marker in STANDALONE:
            continue
        # The length counts its own two bytes; a scan's data follows its header.
        position += max(2, int.from_bytes(data[position:position + 2], "big"))
        if marker == START_OF_SCAN:
            scans += 1
    return scans


def is_whole(data: bytes) -> bool:
    """Whether the first image of the JPEG (or MPO) ``data`` is whole, from its
    markers: each segment complete, in an order libjpeg accepts, up to an end-of-image
    marker after at least one scan, with an 8-bit frame of a kind in CHECKED_FRAMES
    whose quantisation tables are defined before its first scan.

    False when the markers cannot vouch for it (another kind of frame, a height only
    given after the scans, tables defined late, more than MAX_MARKERS markers):
    decode it to know.

    :raises DamagedJpeg: it is cut off, or a segment is malformed.
    """
    if not data.startswith(b"\xff\xd8"):
        raise DamagedJpeg("no start-of-image marker")
    values = numpy.frombuffer(data, numpy.uint8)
    walk = _Walk()
    position = 2
    for _ in range(MAX_MARKERS):
        # Skips a scan's entropy-coded data, as libjpeg skips stray bytes.
        position = _after_next_marker(values, position)
        marker = data[position - 1]
        if marker == END_OF_IMAGE:
            if not walk.scans:
                raise DamagedJpeg("no scan before the end-of-image marker")
            return True
        if marker == START_OF_IMAGE:
            raise DamagedJpeg("a second start-of-image marker")
        if marker in STANDALONE:
            continue
        end = _segment_end(data, position)
        if not walk.vouches_for(marker, data[position + 2:end]):
            return False
        position = end
    return False


class _Walk:
    """What the segments read so far have defined."""

    def __init__(self) -> None:
        self.frame: dict[int, int] | None = None  # component id -> quantisation table
        self.tables: set[int] = set()
        self.scans = 0

    def vouches_for(self, marker: int, segment: bytes) -> bool:
        """Take in one segment; False when the walk cannot vouch for the image.

        :raises DamagedJpeg: the segment is malformed or out of place.
        """
        if marker in OTHER_FRAMES:
            return False
        if marker in CHECKED_FRAMES:
            if self.frame is not None:
                raise DamagedJpeg("two frame headers")
            self.frame = _frame(segment)
            return self.frame is not None
        if marker == QUANTISATION:
            self.tables |= _quantisation_tables(segment)
        elif marker == HUFFMAN:
            _check_huffman_tables(segment)
        elif marker == RESTART_INTERVAL and len(segment) != 2:
            raise DamagedJpeg("a restart interval of the wrong length")
        elif marker == START_OF_SCAN:
            if self.frame is None:
                raise DamagedJpeg("a scan before the frame header")
            _check_scan(segment, self.frame)
            self.scans += 1
            return self.scans > 1 or set(self.frame.values()) <= self.tables
        return True


def _segment_end(data: bytes, position: int) -> int:
    """Where the segment whose length field is at ``position`` ends.

    :raises DamagedJpeg: the file ends first, or the length is below 2.
    """
    if position + 2 > len(data):
        raise DamagedJpeg(CUT_OFF)
    end = position + int.from_bytes(data[position:position + 2], "big")
    if end > len(data):
        raise DamagedJpeg(CUT_OFF)
    if end < position + 2:
        raise DamagedJpeg("a segment shorter than its length field")
    return end


def _after_next_marker(values: numpy.ndarray, position: int) -> int:
    """The index just past the code byte of the first marker at or after
    ``position``: an FF followed by a byte that is not 00, FF or a restart number.

    :raises DamagedJpeg: there is none (the file is cut off).
    """
    found = MARKER.search(values.data, position, position + FIRST_WINDOW)
    if found is not None:
        return found.end()
    size = FIRST_WINDOW
    while position < len(values) - 1:
        window = values[position:position + size + 1]
        found = numpy.flatnonzero(window[:-1] == 0xFF)
        following = window[found + 1]
        markers = found[(following != 0) & (following != 0xFF)
                        & ((following < 0xD0) | (following > 0xD7))]
        if markers.size:
            return position + int(markers[0]) + 2
        position += size
        size = min(size * 16, WINDOW)
    raise DamagedJpeg(CUT_OFF)


def _frame(segment: bytes) -> dict[int, int] | None:
    """A frame header's components (id -> quantisation table); None for one the walk
    leaves to a decode (not 8-bit, the height given later, Pillow has no mode for the
    component count, sampling factors that do not divide).

    :raises DamagedJpeg: its length or a field is malformed.
    """
    if len(segment) < 6 or len(segment) != 6 + 3 * segment[5]:
        raise DamagedJpeg("a frame header of the wrong length")
    precision, height, width, count = segment[0], segment[1:3], segment[3:5], segment[5]
    if width == b"\0\0":
        raise DamagedJpeg("a frame of width 0")
    if precision != 8 or height == b"\0\0" or count not in COMPONENTS:
        return None
    components = [segment[6 + 3 * i:9 + 3 * i] for i in range(count)]
    factors = [(sampling >> 4, sampling & 15) for _, sampling, _ in components]
    if any(not (1 <= h <= 4 and 1 <= v <= 4) for h, v in factors):
        raise DamagedJpeg("sampling factors outside 1-4")
    widest, tallest = max(h for h, _ in factors), max(v for _, v in factors)
    if any(widest % h or tallest % v for h, v in factors):
        return None
    if any(table > 3 for _, _, table in components):
        raise DamagedJpeg("a quantisation table number above 3")
    return {ident: table for ident, _, table in components}


def _quantisation_tables(segment: bytes) -> set[int]:
    """The table numbers a DQT segment defines (each 64 values of 8 or 16 bits).

    :raises DamagedJpeg: a table runs past the segment.
    """
    defined, position = set(), 0
    while position < len(segment):
        precision, number = segment[position] >> 4, segment[position] & 15
        position += 1 + 64 * (2 if precision else 1)
        if position > len(segment) or number > 3:
            raise DamagedJpeg("a malformed quantisation table")
        defined.add(number)
    return defined


def _check_huffman_tables(segment: bytes) -> None:
    """Check a DHT segment's tables as libjpeg does when it builds them: each fits
    the segment, holds at most 256 codes, and its code lengths form a prefix code
    without an all-ones code; a DC table's values are at most 15.

    :raises DamagedJpeg: a table is malformed.
    """
    position = 0
    while position < len(segment):
        kind, counts = segment[position], segment[position + 1:position + 17]
        total = sum(counts)
        symbols = segment[position + 17:position + 17 + total]
        position += 17 + total
        if (position > len(segment) or total > 256
                or kind >> 4 > 1 or kind & 15 > 3):
            raise DamagedJpeg("a malformed Huffman table")
        code = 0
        for length, count in enumerate(counts, start=1):
            code += count
            if code >= 1 << length:
                raise DamagedJpeg("a Huffman table that is no prefix code")
            code <<= 1
        if kind >> 4 == 0 and symbols and max(symbols) > 15:
            raise DamagedJpeg("a DC Huffman table with a value above 15")


def _check_scan(segment: bytes, frame: dict[int, int]) -> None:
    """:raises DamagedJpeg: the scan header's length is off, or it names a
    component the frame does not have."""
    count = segment[0] if segment else 0
    if not 1 <= count <= 4 or len(segment) != 4 + 2 * count:
        raise DamagedJpeg("a scan header of the wrong length")
    if any(segment[1 + 2 * i] not in frame for i in range(count)):
        raise DamagedJpeg("a scan of a component the frame does not have")
