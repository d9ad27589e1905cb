"""Conformance over the shared corpus: every readable file stores and converts to every
writable format; every unreadable one is refused.

The corpus sits beside the repository (``../shared/corpus``). Without it these tests
are skipped with a reason, except on CI (``CI=true``), where its absence fails.
"""

import csv
import re
import struct

import pytest
from PIL import Image, ImageOps

from helpers import CORPUS, corpus_required, decode, upload
from progimage.imaging.formats import FormatRegistry
from system_programs import present, unavailable

pytestmark = pytest.mark.corpus

MANIFEST = CORPUS / "manifest.tsv"
LOSSLESS = ("png", "bmp", "tiff", "ppm", "tga", "qoi")
# Read by packages this project installs, though the corpus manifest lacked them.
EXTRA_READERS = {
    "hopper.mic": "olefile",
    "input_bw_one_band.fpx": "olefile",
    "hopper.heif": "pillow-heif",
}
# The formats of EXTRA_READERS' files, as Pillow names them with those packages.
EXTRA_FORMATS = {"hopper.mic": "MIC", "input_bw_one_band.fpx": "FPX",
                 "hopper.heif": "HEIF"}
# Pillow reads EPS through Ghostscript, a system program.
NEEDS_GHOSTSCRIPT = {"non_zero_bb.eps"}
DEFAULT_MAX_PIXELS = 50_000_000
ORIENTATION = 0x0112
SIDEWAYS = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def _manifest() -> list[dict[str, str]]:
    if not MANIFEST.exists():
        if corpus_required():
            raise RuntimeError(f"CI=true but the corpus is missing at {CORPUS}")
        return []
    with open(MANIFEST, newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


ROWS = _manifest()
if not ROWS:
    pytest.skip(f"the shared corpus is not at {CORPUS}", allow_module_level=True)


def _readable(row: dict[str, str]) -> bool:
    return not row["pillow_format"].startswith("ERROR") or row["file"] in EXTRA_READERS


def _pixels(row: dict[str, str]) -> int:
    try:
        return int(row["width"]) * int(row["height"]) * int(row["n_frames"] or 1)
    except ValueError:
        return 0


READABLE = [row for row in ROWS if _readable(row)]
UNREADABLE = [row for row in ROWS if not _readable(row)]
TARGETS = [fmt.extension for fmt in FormatRegistry.from_pillow().writable()]


@pytest.fixture(scope="module", name="stored")
def _stored(tmp_path_factory):
    """One app for the module with every readable corpus file uploaded once."""
    from progimage import create_app
    from progimage.config import Settings

    # Correctness, not speed: a 384-frame HEIF or a 15-megapixel QOI may take a while.
    # Every reader is on, EPS (off by default: test_postscript.py) included.
    settings = Settings(
        storage=str(tmp_path_factory.mktemp("corpus")), convert_timeout=600,
        postscript=True,
    )
    app = create_app(settings)
    client = app.test_client()
    refs = {}
    for row in READABLE:
        if row["file"] in NEEDS_GHOSTSCRIPT and not _ghostscript():
            continue
        response = upload(client, (CORPUS / "images" / row["file"]).read_bytes())
        refs[row["file"]] = (response.status_code, response.get_data(as_text=True))
    return client, refs, {}


def _ghostscript() -> bool:
    return present("gs")


def _ref(stored, name: str) -> str:
    _, refs, _ = stored
    if name not in refs:
        unavailable("gs is not installed (Debian package ghostscript): Pillow cannot "
                    "read EPS")
    status, body = refs[name]
    assert status == 200, body
    return body


def _convert(stored, name: str, target: str):
    """GET <ref>.<target> once per module; the lossless checks reuse the answer."""
    client, _, answers = stored
    if (name, target) not in answers:
        ref = _ref(stored, name)
        with client.get(f"/storage/{ref}.{target}") as response:
            response.get_data()  # kept after the file (a cached variant) is closed
        answers[name, target] = response
    return answers[name, target]


@pytest.mark.parametrize("row", READABLE, ids=lambda row: row["file"])
def test_readable_file_round_trips(stored, row):
    """Each readable corpus file uploads with 200 and comes back byte for byte."""
    client, _, _ = stored
    ref = _ref(stored, row["file"])
    with client.get(f"/storage/{ref}") as response:
        assert response.status_code == 200
        assert response.data == (CORPUS / "images" / row["file"]).read_bytes()
        assert response.mimetype.startswith(("image/", "application/postscript"))


@pytest.mark.parametrize("row", READABLE, ids=lambda row: row["file"])
def test_info_names_the_format_pillow_does(stored, row):
    """Each readable file is identified as the format Pillow names when it opens the
    file on its own (the manifest's column), whichever order the check tries them."""
    client, _, _ = stored
    ref = _ref(stored, row["file"])
    expected = EXTRA_FORMATS.get(row["file"], row["pillow_format"])
    assert client.get(f"/storage/{ref}/info").get_json()["format"] == expected.upper()


@pytest.mark.parametrize("row", UNREADABLE, ids=lambda row: row["file"])
def test_unreadable_file_is_refused(client, row):
    """Files Pillow cannot read are refused: 422 above the pixel limit, else 400."""
    response = upload(client, (CORPUS / "images" / row["file"]).read_bytes())
    bomb = "[bomb]" in row["notes"] or _pixels(row) > DEFAULT_MAX_PIXELS
    assert response.status_code == (422 if bomb else 400), response.get_json()
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("row", READABLE, ids=lambda row: row["file"])
def test_converts_to_every_writable_format(stored, row, target):
    """Every readable file converts to every writable format, keeping its size."""
    response = _convert(stored, row["file"], target)
    assert response.status_code == 200, response.get_json()
    fmt = FormatRegistry.from_pillow().for_extension(target)
    assert response.mimetype == fmt.mime
    if fmt.name == "EPS" and not _ghostscript():
        return
    width, height = _shown_size(fmt.name, response.data)
    expected_width, expected_height = _expected_size(row, fmt.name)
    # Icon writers round scaled sizes their own way: allow one pixel there.
    slack = 1 if fmt.name == "ICO" else 0
    assert abs(width - expected_width) <= slack
    assert abs(height - expected_height) <= slack


def _shown_size(target: str, data: bytes) -> tuple[int, int]:
    """The size ``data`` shows, read back by Pillow where it can (MPO through its
    JPEG reader), else from the format's own header: Pillow writes PALM and PDF
    without reading them."""
    if target == "PALM":
        # Width, height and bytes per row, then the rest of the 16-byte header.
        width, height, row_bytes = struct.unpack(">HHH", data[:6])
        assert len(data) >= 16 + row_bytes * height
        return width, height
    if target == "PDF":
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        # One pixel is one point: Pillow writes at 72 dpi.
        box = re.search(rb"/MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", data)
        assert box, data[:300]
        return round(float(box[1])), round(float(box[2]))
    image = decode(data)
    if target == "MPO":
        assert image.format in ("MPO", "JPEG")
    return image.size


def _expected_size(row: dict[str, str], target: str) -> tuple[int, int]:
    """The source's size as shown (after its EXIF orientation), except for icons,
    whose formats fix the sizes."""
    with Image.open(CORPUS / "images" / row["file"]) as image:
        if target == "ICNS":
            return (1024, 1024)  # the largest of Apple's square icon slots
        size = image.size
        if image.getexif().get(ORIENTATION, 1) in SIDEWAYS:
            size = size[::-1]
    if target == "ICO":
        box = Image.new("1", size)
        box.thumbnail((256, 256))  # Windows icons stop at 256 x 256
        return box.size
    return size


def _opaque(row: dict[str, str]) -> bool:
    if row["mode"] not in ("RGB", "L", "P", "1"):
        return False
    with Image.open(CORPUS / "images" / row["file"]) as image:
        return "transparency" not in image.info


@pytest.mark.parametrize("target", LOSSLESS)
@pytest.mark.parametrize(
    "row", [row for row in READABLE if _opaque(row)], ids=lambda row: row["file"]
)
def test_lossless_targets_keep_pixels(stored, row, target):
    """PNG, BMP, TIFF, PPM, TGA and QOI keep every RGB pixel exactly (turned upright
    by the EXIF orientation, which conversions apply)."""
    client, _, _ = stored
    ref = _ref(stored, row["file"])
    with client.get(f"/storage/{ref}") as original:
        # Conversions apply the EXIF orientation by default.
        expected = ImageOps.exif_transpose(decode(original.data)).convert("RGB")
    result = decode(_convert(stored, row["file"], target).data).convert("RGB")
    assert result.tobytes() == expected.tobytes()
