"""The pictures of docs/processing.md: one per option, made by docs/make_pictures.py."""

import importlib.util
import io
from pathlib import Path
from urllib.parse import parse_qs

from PIL import Image, ImageCms, ImageStat

from progimage.options import PARAMETERS

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "docs" / "make_pictures.py"
# The largest side of a picture, in pixels.
LARGEST_SIDE = 200
# The difference of the mean colours (per channel, 0-255) below which two lossy
# pictures of one photo show the same colours; the snowy photo's P3 numbers read as
# sRGB are off by 1.5 in red and blue, its sRGB colours shown through P3 by < 0.1.
SAME_COLOURS = 0.5


def _script():
    spec = importlib.util.spec_from_file_location("make_pictures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_option_that_changes_pixels_has_a_picture():
    """A new option needs a query in PICTURES, or a place in NOT_PICTURED."""
    script = _script()
    pictured = {
        name
        for query in script.PICTURES.values()
        for name in parse_qs(query, keep_blank_values=True)
    }
    assert set(PARAMETERS) - script.NOT_PICTURED <= pictured
    assert not script.NOT_PICTURED & pictured


def test_the_processing_page_shows_every_picture():
    """The table between the markers is the one the script writes."""
    assert _script().gallery() in (ROOT / "docs" / "processing.md").read_text()


def test_the_pictures_are_small_webp_files():
    """Every picture exists as a WebP of at most 200 px a side; all below 1 MB."""
    script = _script()
    files = [script.FOLDER / f"{name}.webp" for name in script.PICTURES]
    for path in files:
        with Image.open(path) as image:
            assert image.format == "WEBP", path.name
            assert max(image.size) <= LARGEST_SIDE, path.name
    assert sum(path.stat().st_size for path in files) < 1_000_000
    assert sorted(script.FOLDER.iterdir()) == sorted(files)


def _opened(name: str) -> Image.Image:
    with Image.open(_script().FOLDER / f"{name}.webp") as image:
        image.load()
    return image


def _mean_difference(first: Image.Image, second: Image.Image) -> float:
    """How far apart the mean colours are, in the channel where they differ most."""
    means = zip(ImageStat.Stat(first).mean, ImageStat.Stat(second).mean, strict=True)
    return max(abs(one - other) for one, other in means)


def test_the_icc_pictures_look_alike_in_a_colour_managed_viewer():
    """icc=keep carries the P3 profile, icc=srgb converted pixels: shown through the
    profile they match; read as sRGB numbers, the kept one is visibly off."""
    kept, converted = _opened("icc-keep"), _opened("icc-srgb")
    assert "icc_profile" not in converted.info
    shown = ImageCms.profileToProfile(
        kept, ImageCms.ImageCmsProfile(io.BytesIO(kept.info["icc_profile"])),
        ImageCms.createProfile("sRGB"), outputMode="RGB",
    )
    assert _mean_difference(shown, converted) < SAME_COLOURS
    assert _mean_difference(kept, converted) > 2 * SAME_COLOURS


def test_the_max_bytes_picture_fits_its_budget():
    script = _script()
    budget = int(parse_qs(script.PICTURES["max-bytes"])["max_bytes"][0])
    size = (script.FOLDER / "max-bytes.webp").stat().st_size
    assert size <= budget
    assert f"(X-Quality: {script.CHOSEN_QUALITY['max-bytes']})" in script.gallery()
