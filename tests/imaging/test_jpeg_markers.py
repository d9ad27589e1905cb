"""A JPEG read from its markers, before any decoding: its scans counted, its first
image checked whole."""

import io
import random

import pytest
from helpers import corpus_image
from hypothesis import given, settings, strategies as st
from PIL import Image

from progimage.imaging.jpeg_markers import (
    DamagedJpeg, has_more_scans, is_whole, start_of_scan_bytes,
)


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


def _noise_jpeg(mode: str = "RGB", size: tuple[int, int] = (48, 32),
                **options) -> bytes:
    """A JPEG of random pixels: its scan data holds stuffed FF bytes."""
    bands = len(Image.new(mode, (1, 1)).getbands())
    image = Image.frombytes(mode, size, random.Random(7).randbytes(
        size[0] * size[1] * bands))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _with_exif_thumbnail() -> bytes:
    """A JPEG whose EXIF block holds a JPEG thumbnail: FF D8 ... FF D9 inside a
    segment, which the walk skips by its length."""
    return corpus_image("pil_sample_cmyk.jpg")


@pytest.mark.parametrize("name, data", [
    ("baseline", lambda: _noise_jpeg()),
    ("progressive", lambda: _noise_jpeg(progressive=True)),
    ("greyscale", lambda: _noise_jpeg("L")),
    ("CMYK", lambda: _noise_jpeg("CMYK")),
    ("4:4:4, restart markers every row",
     lambda: _noise_jpeg(subsampling=0, restart_marker_rows=1)),
    ("EXIF thumbnail", _with_exif_thumbnail),
    ("MPO (two images)", lambda: corpus_image("sugarshack.mpo")),
])
def test_whole_jpegs_are_whole(name, data):
    assert is_whole(data()) is True, name


def test_every_cut_of_a_jpeg_is_refused_as_the_decode_refuses_it():
    """Cut anywhere, a JPEG no longer reaches its end marker; Pillow refuses every
    cut inside the scan data too (it refuses earlier cuts when opening)."""
    data = _noise_jpeg(progressive=True)
    scan = data.index(b"\xff\xda")
    for cut in range(len(data) - 1):
        with pytest.raises(DamagedJpeg):
            is_whole(data[:cut])
        if cut > scan + 20:
            image = Image.open(io.BytesIO(data[:cut]))
            with pytest.raises(OSError, match="truncated"):
                image.load()


def _replace(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with the first ``old`` (which must be there) replaced by ``new``."""
    assert old in data
    return data.replace(old, new, 1)


def _dc_table(data: bytes) -> int:
    """Where the first DHT segment's first table (DC, number 0) starts."""
    at = data.index(b"\xff\xc4") + 4
    assert data[at] == 0x00
    return at


def _with_counts(data: bytes, counts: list[int]) -> bytes:
    """The first Huffman table given other code counts per length (same total)."""
    at = _dc_table(data) + 1
    assert sum(counts) == sum(data[at:at + 16])
    return data[:at] + bytes(counts + [0] * (16 - len(counts))) + data[at + 16:]


def _with_dc_value(data: bytes, value: int) -> bytes:
    at = _dc_table(data) + 17
    return data[:at] + bytes([value]) + data[at + 1:]


def _component_of_scan(data: bytes, ident: int) -> bytes:
    at = data.index(b"\xff\xda") + 5
    return data[:at] + bytes([ident]) + data[at + 1:]


def _frame_field(data: bytes, offset: int, value: bytes) -> bytes:
    """The frame header with bytes at ``offset`` of its payload replaced."""
    at = data.index(b"\xff\xc0") + 4 + offset
    return data[:at] + value + data[at + len(value):]


@pytest.mark.parametrize("name, damage, reason", [
    ("no SOI", lambda d: d[2:], "no start-of-image"),
    ("two SOI", lambda d: d[:2] + d, "second start-of-image"),
    ("no scan", lambda d: d[:d.index(b"\xff\xda")] + b"\xff\xd9", "no scan"),
    ("length below 2", lambda d: _replace(d, b"\xff\xdb\x00\x43", b"\xff\xdb\x00\x01"),
     "shorter than its length"),
    ("length past the end", lambda d: _replace(d, b"\xff\xfe", b"\xff\xfe\xff"),
     "truncated"),
    ("frame header is a comment", lambda d: _replace(d, b"\xff\xc0", b"\xff\xfe"),
     "scan before the frame"),
    ("two frame headers", lambda d: _replace(
        d, b"\xff\xc4", d[d.index(b"\xff\xc0"):d.index(b"\xff\xc4")] + b"\xff\xc4"),
     "two frame headers"),
    ("frame of width 0", lambda d: _frame_field(d, 3, b"\0\0"), "width 0"),
    ("frame length off", lambda d: _frame_field(d, 5, b"\x04"), "frame header"),
    ("sampling factor 5", lambda d: _frame_field(d, 7, b"\x51"), "sampling"),
    ("quantisation table 4", lambda d: _frame_field(d, 8, b"\x04"), "quantisation"),
    ("quantisation table past its segment", lambda d: _replace(
        d, b"\xff\xdb\x00\x43\x00", b"\xff\xdb\x00\x43\x10"), "quantisation"),
    ("Huffman codes over-subscribed", lambda d: _with_counts(d, [2, 10]),
     "no prefix code"),
    ("Huffman codes over-subscribed later", lambda d: _with_counts(d, [1, 2, 9]),
     "no prefix code"),
    ("an all-ones Huffman code", lambda d: _with_counts(d, [1] * 10 + [2]),
     "no prefix code"),
    ("DC Huffman value 16", lambda d: _with_dc_value(d, 16), "above 15"),
    ("restart interval of 3 bytes", lambda d: d[:2] + b"\xff\xdd\x00\x03\x00" + d[2:],
     "restart interval"),
    ("scan of an unknown component", lambda d: _component_of_scan(d, 9),
     "component the frame does not have"),
])
def test_malformed_segments_are_named(name, damage, reason):
    data = _noise_jpeg(comment=b"a note")
    with pytest.raises(DamagedJpeg, match=reason):
        is_whole(damage(data))


def _without_chroma_table(data: bytes) -> bytes:
    """Without its DQT segment of table 1 (libjpeg stops at the scan: "Quantization
    table 0x01 was not defined")."""
    at = data.index(b"\xff\xdb\x00\x43\x01")
    return data[:at] + data[at + 2 + 0x43:]


@pytest.mark.parametrize("name, change", [
    ("arithmetic coding (SOF9)", lambda d: _replace(d, b"\xff\xc0", b"\xff\xc9")),
    ("12-bit samples", lambda d: _frame_field(d, 0, b"\x0c")),
    ("height given after the scans (DNL)", lambda d: _frame_field(d, 1, b"\0\0")),
    ("sampling 2 and 3, not a whole ratio", lambda d: _frame_field(d, 10, b"\x31")),
    ("chroma quantisation table not defined before the scan", _without_chroma_table),
])
def test_frames_the_walk_does_not_vouch_for_are_left_to_a_decode(name, change):
    data = _noise_jpeg("RGB", subsampling=1)  # 4:2:2: luma sampling 2x1
    assert is_whole(change(data)) is False, name


def test_a_jpeg_of_thousands_of_segments_is_left_to_a_decode():
    """2,000 empty comments between two scans would cost the walk milliseconds of
    Python each hundred; libjpeg skips them in C. The decode still reads it."""
    data = _noise_jpeg(progressive=True)
    second_scan = data.index(b"\xff\xc4", data.index(b"\xff\xda"))
    padded = data[:second_scan] + b"\xff\xfe\x00\x02" * 2000 + data[second_scan:]
    assert is_whole(padded) is False
    assert is_whole(data) is True
    image = Image.open(io.BytesIO(padded))
    image.load()
    assert image.size == (48, 32)


def test_stray_bytes_between_segments_are_skipped_as_libjpeg_skips_them():
    """libjpeg warns of "extraneous bytes before marker" and reads on."""
    data = _noise_jpeg()
    at = data.index(b"\xff\xc4")
    assert is_whole(data[:at] + b"\x00\x17\xff\xff" + data[at:]) is True


WHOLE = _noise_jpeg(progressive=True, comment=b"a note")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_after_a_start_marker_are_judged_without_a_crash(tail):
    """Whatever follows FF D8, the walk answers True or False or names the damage:
    no other exception (which a converter would answer as a crash, 500)."""
    try:
        assert is_whole(b"\xff\xd8" + tail) in (True, False)
    except DamagedJpeg as error:
        assert str(error)


# Frames (SOF0, 1, 2, 9), Huffman and quantisation tables, a scan, a restart interval,
# a comment, APP0, the end marker and TEM (no length).
MARKERS = (0xC0, 0xC1, 0xC2, 0xC9, 0xC4, 0xDB, 0xDA, 0xDD, 0xFE, 0xE0, 0xD9, 0x01)
FRAME = WHOLE[WHOLE.index(b"\xff\xc2"):WHOLE.index(b"\xff\xc4")]


def _segment(marker: int, payload: bytes) -> bytes:
    if marker in (0xD9, 0x01):
        return bytes([0xFF, marker])
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


# Payloads, often opening with a small count (components, tables) as real ones do.
PAYLOADS = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda count, rest: bytes([count]) + rest,
              st.integers(0, 5), st.binary(max_size=12)),
)


@settings(max_examples=500, deadline=None)
@given(st.booleans(),
       st.lists(st.tuples(st.sampled_from(MARKERS), PAYLOADS), max_size=8))
def test_any_segments_are_judged_without_a_crash(framed, segments):
    """Segments of every kind with payloads of any length and content, after a
    real frame header or not: the walk answers or names the damage."""
    data = b"\xff\xd8" + (FRAME if framed else b"") + b"".join(
        _segment(marker, payload) for marker, payload in segments)
    try:
        assert is_whole(data) in (True, False)
    except DamagedJpeg as error:
        assert str(error)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(WHOLE) - 1), st.integers(0, 255)),
                min_size=1, max_size=8),
       st.integers(0, len(WHOLE)))
def test_a_damaged_jpeg_is_judged_without_a_crash(flips, cut):
    """Bytes changed anywhere (tables, frame, scans) and the file cut anywhere: the
    walk answers or names the damage, and a file it calls whole has an end marker."""
    data = bytearray(WHOLE)
    for at, value in flips:
        data[at] = value
    damaged = bytes(data[:cut])
    try:
        whole = is_whole(damaged)
    except DamagedJpeg:
        return
    if whole:
        assert b"\xff\xd9" in damaged
