"""CORS: browsers on the configured origins may call the API, others may not."""

import io

import pytest

from helpers import make_image
from progimage import create_app
from progimage.config import Settings

ALLOWED = "https://forms.example.org"


@pytest.fixture(name="cors_client")
def _cors_client(tmp_path):
    """A client for an app that allows one origin."""
    app = create_app(Settings(storage=str(tmp_path / "data"), cors_origins=ALLOWED))
    yield app.test_client()
    app.extensions["progimage"].close()


@pytest.mark.parametrize("method, path", [
    ("GET", "/storage/abc"), ("HEAD", "/storage/abc"), ("PUT", "/storage/"),
    ("POST", "/storage/"), ("DELETE", "/storage/abc"),
])
def test_preflight_from_allowed_origin(cors_client, method, path):
    """A preflight from the allowed origin is answered for every method the API has,
    with the Authorization and Content-Type headers and an hour of caching."""
    response = cors_client.options(path, headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "Authorization",
    })
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    allowed = response.headers["Access-Control-Allow-Methods"].split(", ")
    assert set(allowed) == {"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"}
    assert response.headers["Access-Control-Allow-Headers"].lower() == "authorization"
    assert response.headers["Access-Control-Max-Age"] == "3600"


def test_scripts_can_read_the_headers_that_say_what_to_do_next(cors_client):
    """Where an upload went, its ETag for conditional requests, when to retry,
    which credentials to send and the quality max_bytes chose: none is
    CORS-safelisted, so each must be exposed."""
    response = cors_client.get("/storage/abc", headers={"Origin": ALLOWED})
    exposed = response.headers["Access-Control-Expose-Headers"].split(", ")
    assert set(exposed) == {
        "Location", "Retry-After", "WWW-Authenticate", "ETag", "X-Quality",
    }


def test_upload_from_allowed_origin_exposes_location(cors_client):
    """Scripts on the allowed origin can read the Location of an upload."""
    response = cors_client.put(
        "/storage/", headers={"Origin": ALLOWED}, content_type="multipart/form-data",
        data={"data": (io.BytesIO(make_image()), "a.png")},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Location" in response.headers["Access-Control-Expose-Headers"]


def test_errors_carry_cors_headers_too(cors_client):
    """A browser script can read why its upload failed."""
    response = cors_client.put("/storage/", headers={"Origin": ALLOWED})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_other_origin_gets_no_cors_headers(cors_client):
    """An origin that is not listed gets no Access-Control headers."""
    response = cors_client.options("/storage/", headers={
        "Origin": "https://evil.example.com", "Access-Control-Request-Method": "PUT",
    })
    assert "Access-Control-Allow-Origin" not in response.headers


def test_without_setting_there_is_no_cors(client):
    """By default no origin is allowed."""
    response = client.put(
        "/storage/", headers={"Origin": ALLOWED}, content_type="multipart/form-data",
        data={"data": (io.BytesIO(make_image()), "a.png")},
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
