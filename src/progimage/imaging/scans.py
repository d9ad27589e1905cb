"""Count the scans of a JPEG from its markers, without decoding it."""

import re

# A marker: one or more 0xFF, then a byte that is not a stuffed zero (0x00), a fill
# byte or a restart marker (RST0-7, which sit inside entropy-coded data).
MARKER = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")
START_OF_SCAN = 0xDA
START_OF_SCAN_BYTES = b"\xff\xda"
# Markers that stand alone, without a length field: TEM, SOI, EOI.
STANDALONE = frozenset({0x01, 0xD8, 0xD9})


def has_more_scans(data: bytes, than: int) -> bool:
    """Whether the JPEG (or MPO) ``data`` holds more than ``than`` scans.

    Entropy-coded data never holds the bytes FF DA (each FF in it is followed by 00
    or a restart number), so counting them bounds the scans from above at memory
    speed; only a file over that bound is walked marker by marker, since segment
    payloads (an EXIF thumbnail, ICC data) may hold the bytes too.
    """
    if data.count(START_OF_SCAN_BYTES) <= than:
        return False
    return count_scans(data, at_most=than) > than


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
