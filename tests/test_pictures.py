"""The pictures of docs/processing.md: one per option, made by docs/make_pictures.py."""

import importlib.util
from pathlib import Path
from urllib.parse import parse_qs

from PIL import Image

from progimage.options import PARAMETERS

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "docs" / "make_pictures.py"
# The largest side of a picture, in pixels.
LARGEST_SIDE = 200


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
