"""HTTP validators on originals and variants: ETag, Last-Modified, 304, 206."""

import dataclasses
import io

import pytest
from helpers import decode, make_image, upload
from prometheus_client.parser import text_string_to_metric_families
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
        assert response.data == make_image("JPEG")


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


@pytest.fixture(name="untouched")
def _untouched(app, monkeypatch) -> list[str]:
    """Records each opening of an original or a cached variant, and each conversion."""
    service = app.extensions["progimage"]
    opened: list[str] = []

    def spy(name, method):
        def record_call(*args, **kwargs):
            opened.append(name)
            return method(*args, **kwargs)
        return record_call

    for owner, name in [(service.storage, "open"), (service.cache, "open"),
                        (service.converters, "convert")]:
        monkeypatch.setattr(owner, name, spy(name, getattr(owner, name)))
    return opened


def _conversions(client) -> float:
    """Images converted so far, all formats, as /metrics counts them."""
    text = client.get("/metrics").get_data(as_text=True)
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "progimage_conversions_total"
    )


METHODS = ["GET", "HEAD"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("if_match", ['"nope"', 'W/"nope"', '"a", "b"'])
def test_if_match_naming_another_version_answers_412(client, ref, path, method,
                                                     if_match, untouched):
    """If-Match without the current ETag: 412, and nothing read or converted."""
    response = client.open(path.format(ref=ref), method=method,
                           headers={"If-Match": if_match})
    assert response.status_code == 412
    assert untouched == []


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", PATHS)
def test_if_match_with_the_current_etag_or_star_answers_200(client, ref, path, method):
    """If-Match with the current ETag (strongly) or ``*``: the image as usual."""
    url = path.format(ref=ref)
    with client.get(url) as first:
        etag, body = first.headers["ETag"], first.get_data()
    for value in (etag, "*", f'"other", {etag}'):
        with client.open(url, method=method, headers={"If-Match": value}) as response:
            assert response.status_code == 200, value
            assert response.content_length == len(body)


def test_weak_if_match_never_matches(client, ref):
    """If-Match compares strongly: the current ETag marked weak answers 412."""
    with client.get(f"/storage/{ref}") as first:
        etag = first.headers["ETag"]
    response = client.get(f"/storage/{ref}", headers={"If-Match": f"W/{etag}"})
    assert response.status_code == 412


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", PATHS)
def test_if_unmodified_since_before_the_upload_answers_412(client, ref, path, method,
                                                           untouched):
    """The image changed after the client's date (it did not exist): 412, untouched."""
    headers = {"If-Unmodified-Since": http_date(0)}
    response = client.open(path.format(ref=ref), method=method, headers=headers)
    assert response.status_code == 412
    assert untouched == []


@pytest.mark.parametrize("path", PATHS)
def test_if_unmodified_since_after_the_upload_answers_200(client, ref, path):
    """A date at or after the upload holds; so does one that does not parse."""
    url = path.format(ref=ref)
    with client.get(url) as first:
        uploaded = first.headers["Last-Modified"]
    for value in (uploaded, http_date(4_000_000_000), "not a date"):
        headers = {"If-Unmodified-Since": value}
        with client.get(url, headers=headers) as response:
            assert response.status_code == 200, value
            assert decode(response.data).size == (64, 48)


def test_412_is_a_problem_document(client, ref):
    """A failed precondition is a problem document like every other error."""
    response = client.get(f"/storage/{ref}", headers={"If-Match": '"nope"'})
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 412
    assert response.get_json()["detail"] == (
        "If-Match names no current version of this image"
    )
    headers = {"If-Unmodified-Since": http_date(0)}
    response = client.get(f"/storage/{ref}", headers=headers)
    assert response.get_json()["detail"] == (
        "the image is newer than If-Unmodified-Since"
    )


def test_if_match_is_checked_before_if_none_match(client, ref):
    """A matching If-Match and a matching If-None-Match: 304 (RFC 9110 13.2.2)."""
    with client.get(f"/storage/{ref}") as first:
        etag = first.headers["ETag"]
    headers = {"If-Match": etag, "If-None-Match": etag}
    response = client.get(f"/storage/{ref}", headers=headers)
    assert (response.status_code, response.data) == (304, b"")
    assert response.headers["ETag"] == etag


@pytest.mark.parametrize("validator, condition", [
    ("ETag", "If-None-Match"), ("Last-Modified", "If-Modified-Since"),
])
@pytest.mark.parametrize("path", PATHS)
def test_304_reads_and_converts_nothing(client, ref, path, validator, condition,
                                        untouched):
    """A current ETag or date answers 304 before the file is opened or converted
    (for a date, even a variant never converted); the conversions counter agrees."""
    url = path.format(ref=ref)
    source = url if validator == "ETag" else f"/storage/{ref}"
    with client.head(source) as first:
        value = first.headers[validator]
    untouched.clear()
    conversions = _conversions(client)
    response = client.get(url, headers={condition: value})
    assert response.status_code == 304
    assert untouched == []
    assert _conversions(client) == conversions


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("suffix", [10, 999999])
def test_suffix_range_answers_the_last_bytes_or_the_whole_file(client, ref, path,
                                                               method, suffix):
    """``bytes=-N``: 206 with the last N bytes; every byte when the file is shorter
    than N (RFC 9110 14.1.2), as it is for 999999."""
    url = path.format(ref=ref)
    body = _whole(client, url)
    last = body[-suffix:]
    headers = {"Range": f"bytes=-{suffix}"}
    with client.open(url, method=method, headers=headers) as response:
        assert response.status_code == 206
        assert response.headers["Content-Range"] == (
            f"bytes {len(body) - len(last)}-{len(body) - 1}/{len(body)}"
        )
        assert response.content_length == len(last)
        assert response.get_data() == (last if method == "GET" else b"")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("value", [
    "items=0-9", "pages=1", "bytes=abc", "bytes=9-2", "bytes=", "bytes", "bytes=--1",
    "bytes=0-9,20-29", "bytes=0-9,-5",
], ids=["unit", "other unit", "letters", "backwards", "empty", "no equals",
        "double minus", "two ranges", "range and suffix"])
def test_other_units_malformed_and_multiple_ranges_answer_the_whole_file(
    client, ref, path, method, value
):
    """A Range that is not one byte range is ignored: 200 and the whole file."""
    url = path.format(ref=ref)
    body = _whole(client, url)
    with client.open(url, method=method, headers={"Range": value}) as response:
        assert response.status_code == 200
        assert "Content-Range" not in response.headers
        assert response.content_length == len(body)
        assert response.get_data() == (body if method == "GET" else b"")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", PATHS)
def test_range_past_the_end_still_answers_416(client, ref, path, method):
    """A single byte range starting past the end: 416 with the real length."""
    url = path.format(ref=ref)
    size = len(_whole(client, url))
    headers = {"Range": f"bytes={size}-"}
    with client.open(url, method=method, headers=headers) as response:
        assert response.status_code == 416
        assert response.headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("path", PATHS)
def test_range_with_current_if_range_answers_206(client, ref, path):
    """If-Range naming the current ETag or date keeps the range."""
    url = path.format(ref=ref)
    with client.get(url) as whole:
        body = whole.get_data()
        validators = [whole.headers["ETag"], whole.headers["Last-Modified"]]
    for validator in validators:
        headers = {"Range": "bytes=0-9", "If-Range": validator}
        with client.get(url, headers=headers) as response:
            assert (response.status_code, response.get_data()) == (206, body[:10])


@pytest.fixture(name="private_client")
def _private_client(settings):
    """A client of an app whose reads need the key ``k3y``."""
    keyed = dataclasses.replace(settings, api_keys="k3y", private_reads=True)
    app = create_app(keyed)
    yield app.test_client()
    app.extensions["progimage"].close()


KEY = {"Authorization": "Bearer k3y"}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", PATHS)
def test_private_reads_are_never_for_shared_caches(private_client, path, method):
    """With private reads, answers (304s too) are ``private, no-cache``: no shared
    cache keeps them, and a browser asks again, with its key, before each use."""
    url = path.format(ref=_store_privately(private_client))
    with private_client.open(url, method=method, headers=KEY) as response:
        assert response.status_code == 200
        etag = response.headers["ETag"]
        assert response.headers["Cache-Control"] == "private, no-cache"
    with private_client.get(url, headers={**KEY, "If-None-Match": etag}) as again:
        assert again.status_code == 304
        assert again.headers["Cache-Control"] == "private, no-cache"


@pytest.mark.parametrize("method", METHODS)
def test_private_info_is_never_for_shared_caches(private_client, method):
    """With private reads, /info is ``private, no-cache`` too."""
    url = f"/storage/{_store_privately(private_client)}/info"
    with private_client.open(url, method=method, headers=KEY) as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, no-cache"


def _store_privately(client) -> str:
    """Upload a PNG with the key; its reference."""
    uploaded = client.put(
        "/storage/", data={"data": (io.BytesIO(make_image("PNG")), "a.png")},
        headers=KEY, content_type="multipart/form-data",
    )
    return uploaded.get_data(as_text=True)


def _whole(client, url: str) -> bytes:
    """The whole body of a plain GET of ``url``."""
    with client.get(url) as response:
        assert response.status_code == 200
        return response.get_data()
