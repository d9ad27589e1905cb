"""The README and docs/ stay true: links, the settings table, the curl session."""

import importlib
import re
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

from helpers import make_image
from live_servers import Gunicorn
from progimage.config import Settings
from system_programs import require

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
HOST_LINE = "host=http://127.0.0.1:5000"
# Names in the docs that look like modules but are files (the archive the CLI writes).
FILE_NAMES = {"progimage.zip"}


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_anchor(h) for h in re.findall(r"^#{1,6} (.*)$", text, re.M)}


def _broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # a web address, not checked offline
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and anchor not in _anchors(linked):
            broken.append(target)
    return broken


def test_pages_exist():
    """The README links a page for each topic the issue names."""
    names = {page.name for page in PAGES}
    assert {"api.md", "processing.md", "formats.md", "configuration.md",
            "operations.md", "cli.md", "security.md", "deploy.md", "benchmarks.md",
            "development.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_resolve(page):
    """Every relative link and #anchor in the README and docs/ leads somewhere."""
    assert _broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_named_modules_exist(page):
    """Every ``from progimage... import`` and every `progimage.<module>` the docs name
    imports: a module that moved leaves no stale name behind."""
    text = page.read_text()
    for module, names in re.findall(r"from (progimage[\w.]*) import ([\w, ]+)", text):
        imported = importlib.import_module(module)
        for name in re.findall(r"(\w+)(?: as \w+)?", names):
            assert hasattr(imported, name), f"{module}.{name}"
    for dotted in set(re.findall(r"`(progimage(?:\.\w+)+)`", text)) - FILE_NAMES:
        module, _, name = dotted.rpartition(".")
        try:
            importlib.import_module(dotted)
        except ModuleNotFoundError:  # a class or function of a module
            assert hasattr(importlib.import_module(module), name), dotted


def test_readme_is_short():
    """The README reads top to bottom in a few minutes."""
    assert len((ROOT / "README.md").read_text().splitlines()) < 200


def test_configuration_lists_every_setting():
    """docs/configuration.md's table names exactly the service's PROGIMAGE_* settings,
    each once; nothing else lists settings in a table of its own."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    listed = re.findall(r"^\| `(PROGIMAGE_[A-Z0-9_]+)`", text, re.M)
    expected = {f"PROGIMAGE_{field.name.upper()}" for field in fields(Settings)}
    assert sorted(listed) == sorted(expected)
    for page in PAGES:
        if page.name != "configuration.md":
            rows = re.findall(r"^\| `PROGIMAGE_", page.read_text(), re.M)
            assert rows == [], page.name


def _session_block() -> str:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```sh\n(.*?)^```", readme, re.M | re.S)
    return next(block for block in blocks if "uuid=$(curl" in block)


@pytest.mark.system
def test_readme_session_runs_as_written(tmp_path):
    """The README's curl block, run by bash, prints the MIME types its comments say
    and writes thumb.webp."""
    require("curl")
    require("file")
    block = _session_block()
    assert HOST_LINE in block
    promised = re.findall(r"# (image/[\w.+-]+)$", block, re.M)
    assert promised == ["image/jpeg", "image/bmp"]
    (tmp_path / "image.jpg").write_bytes(make_image("JPEG", size=(120, 80)))
    with Gunicorn(tmp_path, {"PROGIMAGE_STORAGE": str(tmp_path / "data")}) as server:
        script = "set -eo pipefail\n" + block.replace(HOST_LINE, f"host={server.url}")
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
            timeout=60, check=True,
        )
    assert done.stdout.split() == promised
    thumb = (tmp_path / "thumb.webp").read_bytes()
    assert thumb[:4] == b"RIFF" and thumb[8:12] == b"WEBP"
