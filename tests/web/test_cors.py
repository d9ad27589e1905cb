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


def test_preflight_from_allowed_origin(cors_client):
    """A preflight for an upload from the allowed origin is answered with CORS."""
    response = cors_client.options("/storage/", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Authorization",
    })
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


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
