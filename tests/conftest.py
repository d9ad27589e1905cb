"""Fixtures that build the world: an app on a temporary folder, images in memory."""

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from progimage import create_app
from progimage.config import Settings
from progimage.pool import ConverterPool
from live_servers import Gunicorn
from system_programs import on_ci

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _pool_shape(settings: Settings) -> tuple[int, float, int | None]:
    """What a converter pool is built from."""
    return settings.convert_workers, settings.convert_timeout, settings.convert_waiting


@pytest.fixture(name="converters", scope="session")
def _converters() -> Iterator[ConverterPool]:
    """One converter pool of the default settings for the session's apps: a
    converter starts once, not once per test. It stops before the coverage report,
    which needs its data."""
    pool = ConverterPool(*_pool_shape(Settings()))
    yield pool
    pool.close()


@pytest.fixture(name="app_factory")
def _app_factory(converters: ConverterPool):
    """Builds apps from settings, and closes them after the test. Apps whose pool
    settings are the defaults share the session's converters."""
    apps = []

    def build(settings: Settings):
        shared = _pool_shape(settings) == _pool_shape(Settings())
        apps.append(create_app(settings, converters if shared else None))
        return apps[-1]

    yield build
    for app in apps:
        app.extensions["progimage"].close()


@pytest.fixture(name="settings")
def _settings(tmp_path: Path) -> Settings:
    """Settings with storage in a fresh temporary folder."""
    return Settings(storage=str(tmp_path / "data"))


@pytest.fixture(name="app")
def _app(settings: Settings, app_factory):
    """The app, configured for one test."""
    return app_factory(settings)


@pytest.fixture(name="client")
def _client(app):
    """Flask's test client for the app."""
    return app.test_client()


@contextlib.contextmanager
def app_client(settings: Settings) -> Iterator:
    """A test client of an app built with ``settings``, for tests that change
    settings over one storage folder; the app's converters stop afterwards."""
    app = create_app(settings)
    try:
        yield app.test_client()
    finally:
        app.extensions["progimage"].close()


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


def upload(client, data: bytes, name: str = "image", method: str = "PUT",
           path: str = "/storage/", headers: dict[str, str] | None = None):
    """Upload ``data`` as the multipart field ``data``; return the response."""
    # Encoded in memory: the test client would spool large bodies to a file
    # that nothing closes.
    boundary, body = encode_multipart(
        {"data": FileStorage(io.BytesIO(data), filename=name)}
    )
    return client.open(
        path, method=method, data=body,
        content_type=f"multipart/form-data; boundary={boundary}", headers=headers,
    )


def decode(data: bytes) -> Image.Image:
    """Decode a response body with Pillow."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@contextlib.contextmanager
def largest_image() -> Iterator[list[int]]:
    """Watch every image Pillow makes in this process (results of operations
    included); the list yielded holds the largest pixel count seen so far."""
    largest = [0]
    original = Image.Image._new

    def spy(self: Image.Image, core) -> Image.Image:
        largest[0] = max(largest[0], core.size[0] * core.size[1])
        return original(self, core)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image.Image, "_new", spy)
        yield largest


def corpus_required() -> bool:
    """On CI the corpus must be there; elsewhere its tests are skipped."""
    return on_ci()


def with_orientation(orientation: int) -> Image.Exif:
    """EXIF data holding only the orientation tag, for ``make_image(exif=...)``."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def corpus_image(name: str) -> bytes:
    """A real sample image from the corpus; the test is skipped where it is absent."""
    path = CORPUS / "images" / name
    if not path.is_file() and not corpus_required():
        pytest.skip(f"corpus image {name} is not available here")
    return path.read_bytes()


BUCKET = "progimage-test"


@pytest.fixture(name="aws_env")
def _aws_env(monkeypatch):
    """Dummy credentials and a region, so boto3 never looks for real ones."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="s3_bucket")
def _s3_bucket(aws_env):
    """An empty bucket in moto's in-process S3; yields its name."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield BUCKET


@pytest.fixture(name="live_server", scope="session")
def _live_server(tmp_path_factory) -> Iterator[str]:
    """A real gunicorn (the deployed settings) on a free loopback port; its URL."""
    folder = tmp_path_factory.mktemp("live")
    server = Gunicorn(folder, {"PROGIMAGE_STORAGE": str(folder / "data")}).start()
    yield server.url
    server.stop()


API_KEY = "test-key-1f6c2a"
#: The upload limit of ``keyed_server``: small, so that refusing early shows.
KEYED_SERVER_MAX_UPLOAD = 16 * 1024 * 1024


@pytest.fixture(name="keyed_server", scope="session")
def _keyed_server(tmp_path_factory) -> Iterator[str]:
    """A real gunicorn that wants ``API_KEY`` to upload and to read, and refuses
    uploads over ``KEYED_SERVER_MAX_UPLOAD``; its URL."""
    folder = tmp_path_factory.mktemp("keyed")
    server = Gunicorn(folder, {
        "PROGIMAGE_STORAGE": str(folder / "data"), "PROGIMAGE_API_KEYS": API_KEY,
        "PROGIMAGE_PRIVATE_READS": "1",
        "PROGIMAGE_MAX_UPLOAD_BYTES": str(KEYED_SERVER_MAX_UPLOAD),
    }, workers=1).start()
    yield server.url
    server.stop()
