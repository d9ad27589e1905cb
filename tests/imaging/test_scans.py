"""Counting a JPEG's scans from its bytes, before any decoding."""

import io

import pytest
from PIL import Image

from progimage.imaging.scans import has_more_scans, start_of_scan_bytes


@pytest.mark.parametrize("data, expected", [
    (b"", 0),
    (b"\xff", 0),
    (b"\xda", 0),
    (b"\xda\xff", 0),
    (b"\xff\xda", 1),
    (b"\xff\xff\xda\xda\xff\xda", 2),
    (b"\x00\xff\xda\x00" * 50, 50),
])
def test_start_of_scan_bytes_counts_each_ff_da(data, expected):
    assert start_of_scan_bytes(data) == expected


def _progressive() -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(buffer, "JPEG", progressive=True)
    return buffer.getvalue()


def test_a_progressive_jpeg_has_its_ten_scans():
    data = _progressive()
    assert not has_more_scans(data, than=10)
    assert has_more_scans(data, than=9)


def test_scan_marker_bytes_in_a_comment_do_not_count():
    """The bytes bound the count from above; the segments decide."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", comment=b"\xff\xda" * 20)
    data = buffer.getvalue()
    assert start_of_scan_bytes(data) == 21
    assert not has_more_scans(data, than=1)
