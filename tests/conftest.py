"""Fixtures that build the world: an app on a temporary folder, real servers."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from progimage import create_app
from progimage.config import Settings
from progimage.pool import ConverterPool
from helpers import API_KEY, BUCKET, KEYED_SERVER_MAX_UPLOAD
from live_servers import CREDENTIALS, Gunicorn


SYSTEM = Path(__file__).resolve().parent / "system"
# Fixtures that start real servers: a test using one is a system test wherever it is.
LIVE_FIXTURES = frozenset({"live_server", "keyed_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``system`` what runs real servers or programs: everything under
    tests/system/, and any test using a live server."""
    for item in items:
        if SYSTEM in item.path.parents or LIVE_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.system)


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


@pytest.fixture(name="aws_env")
def _aws_env(monkeypatch):
    """Dummy credentials and a region, so boto3 never looks for real ones."""
    for name, value in CREDENTIALS.items():
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
