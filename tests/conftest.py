"""Fixtures that build the world: an app on a temporary folder, real servers."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from progimage import create_app
from progimage.config import Settings
from progimage.pool import ConverterPool
from helpers import (API_KEY, BUCKET, KEYED_SERVER_MAX_UPLOAD, SIGNED_SERVER_PRESETS,
                     SIGNING_KEY)
from live_servers import CREDENTIALS, Gunicorn, moto_server


SYSTEM = Path(__file__).resolve().parent / "system"
# Fixtures that start real servers: a test using one is a system test wherever it is.
LIVE_FIXTURES = frozenset({"live_server", "keyed_server", "signed_server"})


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


@pytest.fixture(name="s3_endpoint", scope="session")
def _s3_endpoint() -> Iterator[str]:
    """The URL of moto's S3 server, in a process of its own on a free loopback port:
    one per session (per xdist worker), so boto3 signs, sends and retries real HTTP
    requests, streams real responses and uploads real parts."""
    with moto_server() as url:
        yield url


@pytest.fixture(name="s3_bucket")
def _s3_bucket(aws_env, monkeypatch, s3_endpoint: str) -> Iterator[str]:
    """A fresh, empty bucket on the session's S3 server, which boto3 finds through
    AWS_ENDPOINT_URL as an operator would configure it; its name. A name of its own
    keeps tests independent of each other and of their order."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    name = f"{BUCKET}-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    yield name
    _remove_bucket(s3, name)


def _remove_bucket(s3, name: str) -> None:
    """Empty and delete bucket ``name`` (some tests delete it themselves), so the
    session's server does not keep every test's objects in memory."""
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=item["Key"])
        for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        s3.delete_bucket(Bucket=name)
    except s3.exceptions.NoSuchBucket:
        pass


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


@pytest.fixture(name="signed_server", scope="session")
def _signed_server(tmp_path_factory) -> Iterator[str]:
    """A real gunicorn whose conversions need a signature by ``SIGNING_KEY``, with
    the presets ``SIGNED_SERVER_PRESETS``; its URL."""
    folder = tmp_path_factory.mktemp("signed")
    server = Gunicorn(folder, {
        "PROGIMAGE_STORAGE": str(folder / "data"),
        "PROGIMAGE_SIGNING_KEYS": SIGNING_KEY, "PROGIMAGE_SIGNED_READS": "variants",
        "PROGIMAGE_PRESETS": SIGNED_SERVER_PRESETS,
    }, workers=1).start()
    yield server.url
    server.stop()
