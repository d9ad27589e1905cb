"""The S3 backend's own promises: layout, metadata, multipart, errors, the app on it."""

import io
import os
import socket
import tempfile
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from helpers import decode, make_image, upload
from loopback import answer, serve
from progimage import create_app
from progimage.config import Settings, SettingsError
from progimage.exceptions import ImageNotFound, StorageUnavailable
from progimage.storage import ImageRecord
from progimage.storage.s3 import S3Storage
from storage_samples import RECORD


@pytest.fixture(name="storage")
def _storage(s3_bucket):
    """An S3 backend under the prefix ``tenant/`` of a fresh bucket on the S3 server."""
    return S3Storage.from_url(f"s3://{s3_bucket}/tenant/")


@pytest.fixture(name="requests_sent")
def _requests_sent(storage):
    """The HTTP requests the backend's client sends from now on (method, URL)."""
    sent = []
    storage.client.meta.events.register(
        "before-send", lambda request, **_: sent.append((request.method, request.url))
    )
    return sent


@pytest.fixture(name="closed_port")
def _closed_port():
    """A loopback port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_original_is_one_object_with_its_record_as_metadata(storage, s3_bucket):
    """``prefix/originals/<ref>`` holds the bytes, typed, with the record as JSON."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    head = boto3.client("s3").head_object(
        Bucket=s3_bucket, Key=f"tenant/originals/{ref}"
    )
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == 3
    assert ImageRecord.from_json(head["Metadata"]["record"].encode()) == RECORD


def test_large_original_is_uploaded_in_parts(storage, s3_bucket):
    """Above 8 MiB the upload is multipart: S3 reports the part count in the ETag."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(os.urandom(9 * 1024 * 1024)), RECORD)
    head = boto3.client("s3").head_object(
        Bucket=s3_bucket, Key=f"tenant/originals/{ref}"
    )
    assert head["ETag"].strip('"').endswith("-2")


def test_saved_bytes_reach_the_server_over_http(storage, s3_bucket, s3_endpoint):
    """What the backend saves is in the S3 server's process: a plain HTTP client
    reads it back on loopback (refused unsigned, served presigned), so these tests
    cross a real connection to a server that checks who asks."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    key = f"tenant/originals/{ref}"
    unsigned = requests.get(f"{s3_endpoint}/{s3_bucket}/{key}", timeout=10)
    presigned = requests.get(boto3.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": s3_bucket, "Key": key}
    ), timeout=10)
    assert storage.client.meta.endpoint_url == s3_endpoint
    assert unsigned.status_code == 403
    assert (presigned.status_code, presigned.content) == (200, b"abc")


def test_a_span_is_one_ranged_get(storage):
    """``open(ref, span)`` asks the server for those bytes only."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abcdef"), RECORD)
    ranges = []
    storage.client.meta.events.register(
        "before-send",
        lambda request, **_: ranges.append(request.headers.get("Range")),
    )
    with storage.open(ref, (2, 5)) as body:
        assert body.read(1) == b"c"
        assert body.read() == b"de"
    assert ranges == [b"bytes=2-4"]


def test_a_busy_store_is_retried_three_times_then_unavailable(aws_env):
    """An endpoint answering 503 SlowDown gets the request and three retries over
    HTTP (botocore's standard mode, max_attempts=3 counts retries) before the read
    is reported unavailable."""
    paths = []

    def busy(request):
        paths.append(request.path)
        answer(request, 503, b"<Error><Code>SlowDown</Code></Error>", "text/xml")

    with serve(busy) as endpoint:
        storage = S3Storage("progimage-test", "t/", endpoint)
        ref = str(uuid.uuid4())
        with pytest.raises(StorageUnavailable, match=r"refused .*\(SlowDown\)"):
            storage.open(ref)
    assert paths == [f"/progimage-test/t/originals/{ref}"] * 4


@pytest.mark.parametrize("action", ["record", "open", "delete"])
def test_malformed_reference_sends_no_request(storage, requests_sent, action):
    """A reference that is not a canonical UUID is refused before any S3 call."""
    with pytest.raises(ImageNotFound):
        getattr(storage, action)("../originals/x")
    assert requests_sent == []


def test_record_is_read_without_fetching_the_bytes(storage, requests_sent):
    """Reading the record is one HEAD request."""
    ref = str(uuid.uuid4())
    storage.save(ref, io.BytesIO(b"abc"), RECORD)
    requests_sent.clear()
    storage.record(ref)
    assert [method for method, _ in requests_sent] == ["HEAD"]


def test_foreign_object_is_not_an_image(storage, s3_bucket):
    """An object put there by something else, without a record, is not found."""
    ref = str(uuid.uuid4())
    boto3.client("s3").put_object(
        Bucket=s3_bucket, Key=f"tenant/originals/{ref}", Body=b"x"
    )
    with pytest.raises(ImageNotFound):
        storage.record(ref)


@pytest.mark.parametrize("url, bucket, prefix", [
    ("s3://progimage-test", "progimage-test", ""),
    ("s3://progimage-test/", "progimage-test", ""),
    ("s3://progimage-test/a/b/", "progimage-test", "a/b/"),
    ("s3://progimage-test/a..b/.c", "progimage-test", "a..b/.c/"),
])
def test_url_names_bucket_and_prefix(aws_env, url, bucket, prefix):
    """The URL's host is the bucket and its path the key prefix."""
    storage = S3Storage.from_url(url)
    assert (storage.bucket, storage.prefix) == (bucket, prefix)


@pytest.mark.parametrize("url", [
    "s3://", "s3:///prefix", "s3://Upper_Case", "s3://a", "s3://bucket?x=1",
])
def test_malformed_url_fails_at_start(aws_env, url):
    """A location that names no valid bucket stops the app from starting."""
    with pytest.raises(SettingsError, match="s3://bucket/optional/prefix"):
        create_app(Settings(storage=url))


@pytest.mark.parametrize("setting", ["storage", "cache_bucket"])
@pytest.mark.parametrize("prefix", [
    "../other", "a/../../other", "./a", "a/.", "a//b", "/a", "..",
])
def test_prefix_with_dot_or_empty_segments_fails_at_start(
    s3_bucket, tmp_path, setting, prefix
):
    """S3 would keep ``..`` and empty segments in keys literally: they are refused,
    naming the setting."""
    values = {"storage": str(tmp_path), setting: f"s3://{s3_bucket}/{prefix}"}
    with pytest.raises(SettingsError, match=f"PROGIMAGE_{setting.upper()}=.*segments"):
        create_app(Settings(**values))


def test_missing_bucket_fails_at_start(s3_bucket):
    """A bucket that does not exist stops the app from starting, naming it."""
    with pytest.raises(SettingsError, match="'no-such-bucket' does not exist"):
        create_app(Settings(storage="s3://no-such-bucket"))


def test_unreachable_store_starts_but_is_unavailable(aws_env, closed_port, caplog):
    """With the endpoint down the app starts, logs it, and reads are unavailable."""
    settings = Settings(
        storage="s3://progimage-test", s3_endpoint=f"http://127.0.0.1:{closed_port}"
    )
    storage = create_app(settings).extensions["progimage"].storage
    assert "S3 store cannot be checked at start-up" in caplog.text
    with pytest.raises(StorageUnavailable, match="cannot be reached"):
        storage.record(str(uuid.uuid4()))


def test_endpoint_setting_is_used(aws_env, closed_port):
    """PROGIMAGE_S3_ENDPOINT points the client at an S3-compatible server."""
    endpoint = f"http://127.0.0.1:{closed_port}"
    settings = Settings.from_env({
        "PROGIMAGE_STORAGE": "s3://progimage-test",
        "PROGIMAGE_S3_ENDPOINT": endpoint,
    })
    storage = create_app(settings).extensions["progimage"].storage
    assert storage.client.meta.endpoint_url == endpoint


@pytest.fixture(name="s3_client")
def _s3_client(s3_bucket):
    """The test client of an app whose originals live in a bucket on the S3 server."""
    return create_app(Settings(storage=f"s3://{s3_bucket}/app")).test_client()


def test_app_serves_originals_from_s3(s3_client):
    """An original uploaded to S3 comes back byte-exact, with its length."""
    original = make_image("JPEG", size=(80, 60))
    ref = upload(s3_client, original).get_data(as_text=True)
    with s3_client.get(f"/storage/{ref}") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert response.content_length == len(original)
        assert response.data == original


def test_app_serves_ranges_and_304_from_s3(s3_client):
    """Byte ranges and conditional requests work on a stream from S3."""
    original = make_image("PNG")
    ref = upload(s3_client, original).get_data(as_text=True)
    with s3_client.get(f"/storage/{ref}", headers={"Range": "bytes=4-11"}) as part:
        assert part.status_code == 206
        assert part.data == original[4:12]
        etag = part.headers["ETag"]
    with s3_client.get(f"/storage/{ref}", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
        assert again.data == b""


def test_app_converts_originals_from_s3(s3_client):
    """A conversion reads the original from S3 and answers the new format."""
    ref = upload(s3_client, make_image("PNG", size=(30, 20))).get_data(as_text=True)
    response = s3_client.get(f"/storage/{ref}.webp")
    assert response.status_code == 200
    image = decode(response.data)
    assert (image.format, image.size) == ("WEBP", (30, 20))


def test_app_answers_503_when_the_bucket_is_gone(s3_client, s3_bucket):
    """Storage errors are a 503 problem naming the cause, not a 500."""
    s3 = boto3.client("s3")
    s3.delete_bucket(Bucket=s3_bucket)
    response = upload(s3_client, make_image())
    assert response.status_code == 503
    assert response.get_json()["detail"] == (
        "the S3 store refused the request (NoSuchBucket)"
    )


def test_app_converts_every_frame_from_s3(s3_client):
    """An animation read from S3 (a stream that cannot seek) keeps all its frames."""
    frames = [make_image("PNG", size=(16, 16)), make_image("PNG", size=(16, 16))]
    images = [decode(data).convert("P") for data in frames]
    images[1].paste(0, (0, 0, 8, 8))
    buffer = io.BytesIO()
    images[0].save(
        buffer, "GIF", save_all=True, append_images=images[1:], duration=[70, 90],
        loop=0,
    )
    ref = upload(s3_client, buffer.getvalue()).get_data(as_text=True)
    response = s3_client.get(f"/storage/{ref}.webp")
    assert response.status_code == 200
    image = decode(response.data)
    assert (image.format, image.n_frames) == ("WEBP", 2)


def test_s3_app_caches_variants_in_the_temporary_folder(s3_bucket):
    """Without PROGIMAGE_CACHE_DIR an S3 app keeps variants under the temporary folder,
    and a second request is served from there."""
    app = create_app(Settings(storage=f"s3://{s3_bucket}/cached"))
    client = app.test_client()
    cache = app.extensions["progimage"].cache
    assert cache.folder == Path(tempfile.gettempdir(), "progimage-cache").resolve()
    ref = upload(client, make_image("PNG", size=(30, 20))).get_data(as_text=True)
    bodies = []
    for _ in range(2):
        with client.get(f"/storage/{ref}.webp?w=15") as response:
            assert response.status_code == 200
            bodies.append(response.get_data())
    kept = [path.read_bytes() for path in (cache.folder / ref[:2] / ref).iterdir()]
    assert kept == [bodies[0]] == [bodies[1]]
    assert decode(bodies[0]).size == (15, 10)
    assert client.delete(f"/storage/{ref}").status_code == 204
    assert not (cache.folder / ref[:2] / ref).exists()


def test_s3_originals_ignore_accel_redirect(s3_bucket, tmp_path):
    """PROGIMAGE_ACCEL_REDIRECT has no file to point at in S3: the bytes are sent."""
    settings = Settings(
        storage=f"s3://{s3_bucket}", accel_redirect="/_internal/",
        cache_dir=str(tmp_path / "cache"),
    )
    client = create_app(settings).test_client()
    original = make_image("PNG")
    ref = upload(client, original).get_data(as_text=True)
    with client.get(f"/storage/{ref}") as response:
        assert response.status_code == 200
        assert "X-Accel-Redirect" not in response.headers
        assert response.content_length == len(original)
        assert response.get_data() == original
