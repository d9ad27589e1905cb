"""Fixtures that build the world: an app on a temporary folder, images in memory."""

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from progimage import create_app
from progimage.config import Settings
from progimage.pool import stop_spares

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture(autouse=True, scope="session")
def _stop_converters():
    """Converters kept for reuse stop before the coverage report, which needs
    their data."""
    yield
    stop_spares()


@pytest.fixture(name="settings")
def _settings(tmp_path: Path) -> Settings:
    """Settings with storage in a fresh temporary folder."""
    return Settings(storage=str(tmp_path / "data"))


@pytest.fixture(name="app")
def _app(settings: Settings):
    """The app, configured for one test; its converter processes stop afterwards."""
    app = create_app(settings)
    yield app
    app.extensions["progimage"].close()


@pytest.fixture(name="client")
def _client(app):
    """Flask's test client for the app."""
    return app.test_client()


def make_image(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), mode: str = "RGB", **params
) -> bytes:
    """An encoded image with a gradient, so that pixels differ from one another."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [
            (x * 255 // width, y * 255 // height, 128)
            for y in range(height)
            for x in range(width)
        ]
    )
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def upload(client, data: bytes, name: str = "image", method: str = "put"):
    """Upload ``data`` as the multipart field ``data``; return the response."""
    return getattr(client, method)(
        "/storage/", data={"data": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def decode(data: bytes) -> Image.Image:
    """Decode a response body with Pillow."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def corpus_required() -> bool:
    """On CI the corpus must be there; elsewhere its tests are skipped."""
    return os.environ.get("CI", "").lower() == "true"
