"""HTTP validators on originals and variants: ETag, Last-Modified, 304, 206."""

import dataclasses

import pytest
from conftest import decode, make_image, upload
from werkzeug.http import http_date, parse_date

from progimage import create_app

PATHS = ["/storage/{ref}", "/storage/{ref}.webp", "/storage/{ref}.png"]


@pytest.fixture(name="ref")
def _ref(client) -> str:
    """The reference of a stored 64x48 JPEG."""
    return upload(client, make_image("JPEG")).get_data(as_text=True)


@pytest.mark.parametrize("path", PATHS)
def test_response_carries_strong_validators_and_immutable_caching(client, ref, path):
    """Originals and variants: a strong ETag, Last-Modified and a year of caching."""
    with client.get(path.format(ref=ref)) as response:
        assert response.status_code == 200
        etag, weak = response.get_etag()
        assert etag and not weak
        assert parse_date(response.headers["Last-Modified"]) is not None
        cache = response.cache_control
        assert cache.public and cache.immutable and cache.max_age == 31536000
        assert not cache.no_cache


def test_variant_etags_differ_from_original_and_each_other(client, ref):
    """Each representation has its own ETag."""
    tags = set()
    for path in PATHS:
        with client.get(path.format(ref=ref)) as response:
            tags.add(response.get_etag()[0])
    assert len(tags) == len(PATHS)


@pytest.mark.parametrize("validator, condition", [
    ("ETag", "If-None-Match"), ("Last-Modified", "If-Modified-Since"),
])
@pytest.mark.parametrize("path", PATHS)
def test_current_copy_answers_304_with_validators(client, ref, path, validator,
                                                  condition):
    """A client holding the current ETag or date gets 304, no body, the validators."""
    url = path.format(ref=ref)
    with client.get(url) as first:
        value, etag = first.headers[validator], first.headers["ETag"]
    with client.get(url, headers={condition: value}) as response:
        assert response.status_code == 304
        assert response.get_data() == b""
        assert response.headers["ETag"] == etag
        assert response.cache_control.immutable


@pytest.mark.parametrize("path", PATHS)
def test_other_etag_answers_200(client, ref, path):
    """An If-None-Match naming another ETag gets the full body."""
    headers = {"If-None-Match": '"something-else"'}
    with client.get(path.format(ref=ref), headers=headers) as response:
        assert response.status_code == 200
        assert decode(response.get_data()).size == (64, 48)


def test_older_if_modified_since_answers_200(client, ref):
    """A copy from before the upload is stale."""
    headers = {"If-Modified-Since": http_date(0)}
    with client.get(f"/storage/{ref}", headers=headers) as response:
        assert response.status_code == 200


@pytest.mark.parametrize("path", PATHS)
def test_range_answers_206_with_the_slice(client, ref, path):
    """A byte range of an original or a variant answers 206 and just those bytes."""
    url = path.format(ref=ref)
    with client.get(url) as whole:
        body = whole.get_data()
    with client.get(url, headers={"Range": "bytes=10-29"}) as response:
        assert response.status_code == 206
        assert response.get_data() == body[10:30]
        assert response.headers["Content-Range"] == f"bytes 10-29/{len(body)}"


def test_range_with_stale_if_range_answers_whole_file(client, ref):
    """If-Range naming another ETag ignores the range."""
    headers = {"Range": "bytes=0-9", "If-Range": '"old"'}
    with client.get(f"/storage/{ref}", headers=headers) as response:
        assert response.status_code == 200
        assert decode(response.get_data()).size == (64, 48)


def test_unsatisfiable_range_answers_416(client, ref):
    """A range past the end answers 416 with the real length."""
    with client.get(f"/storage/{ref}") as whole:
        size = len(whole.get_data())
    headers = {"Range": "bytes=999999-"}
    with client.get(f"/storage/{ref}", headers=headers) as response:
        assert response.status_code == 416
        assert response.headers["Content-Range"] == f"bytes */{size}"


def test_accel_redirect_hands_originals_to_nginx(settings):
    """With PROGIMAGE_ACCEL_REDIRECT an original is a header-only pointer for nginx;
    validators and 304 still come from the app, and variants are sent as bytes."""
    app = create_app(dataclasses.replace(settings, accel_redirect="/_internal/"))
    client = app.test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    with client.get(f"/storage/{ref}") as response:
        assert response.status_code == 200
        assert response.get_data() == b""
        assert response.mimetype == "image/png"
        assert response.headers["X-Accel-Redirect"] == (
            f"/_internal/{ref[:2]}/{ref[2:4]}/{ref}/original"
        )
        etag = response.headers["ETag"]
    with client.get(f"/storage/{ref}", headers={"If-None-Match": etag}) as response:
        assert response.status_code == 304
    with client.get(f"/storage/{ref}.webp") as response:
        assert "X-Accel-Redirect" not in response.headers
        assert decode(response.get_data()).format == "WEBP"
