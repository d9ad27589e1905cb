"""The S3 backend against moto's S3 server over HTTP: ranged reads, deletes racing
conversions, batch rollbacks and ``progimage gc``."""

import dataclasses
import io
import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from helpers import make_image, upload
from progimage import cli, create_app
from progimage.config import Settings
from progimage.exceptions import StorageUnavailable
from test_delete_race import convert_while

PROGIMAGE = str(Path(sys.executable).with_name("progimage"))


@pytest.fixture(name="bucket")
def _bucket(s3_bucket: str) -> str:
    """A fresh bucket on the session's S3 server (tests/conftest.py), which boto3
    finds through the environment, as an operator would configure it; its name."""
    return s3_bucket


def keys(bucket: str, prefix: str) -> list[str]:
    """The object keys under ``prefix``."""
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


@pytest.fixture(name="apps")
def _apps(bucket, tmp_path):
    """Two apps on the bucket's prefix ``t``, each with a local cache of its own."""
    settings = Settings(storage=f"s3://{bucket}/t")
    apps = [
        create_app(dataclasses.replace(settings, cache_dir=str(tmp_path / name)))
        for name in ("a", "b")
    ]
    yield apps
    for app in apps:
        app.extensions["progimage"].close()


def noise_bmp() -> bytes:
    """A 1 MB BMP: big enough that reading all of it for a range shows."""
    buffer = io.BytesIO()
    Image.effect_noise((600, 600), 60).convert("RGB").save(buffer, "BMP")
    return buffer.getvalue()


@pytest.mark.parametrize("wanted, start, stop", [
    ("bytes=100-199", 100, 200),
    ("bytes=-10", -10, None),
    ("bytes=1000000-", 1000000, None),
])
def test_a_range_of_an_original_fetches_only_that_range(apps, wanted, start, stop):
    """A Range read answers 206 with the bytes and asks S3 for them alone."""
    data = noise_bmp()
    client = apps[0].test_client()
    ref = upload(client, data).get_data(as_text=True)
    asked = []
    apps[0].extensions["progimage"].storage.client.meta.events.register(
        "before-send", lambda request, **_: asked.append(request.headers.get("Range"))
    )
    with client.get(f"/storage/{ref}", headers={"Range": wanted}) as response:
        assert response.status_code == 206
        assert response.data == data[start:stop]
    first, last = range(len(data))[start:stop][0], range(len(data))[start:stop][-1]
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
    assert asked[-1] in (f"bytes={first}-{last}", f"bytes={first}-{last}".encode())


def test_a_delete_during_a_conversion_leaves_nothing_in_the_bucket(
    apps, bucket, monkeypatch
):
    """A converts; B deletes meanwhile; A's conversion then answers 404 and leaves
    no variant in the bucket (nothing would ever purge it) nor in A's cache."""
    first, second = (app.test_client() for app in apps)
    ref = upload(first, make_image("PNG")).get_data(as_text=True)

    def delete():
        assert second.delete(f"/storage/{ref}").status_code == 204

    service = apps[0].extensions["progimage"]
    status, _ = convert_while(
        service, first, f"/storage/{ref}.webp?w=20", delete, monkeypatch
    )
    assert status == 404
    assert keys(bucket, "t/") == []
    assert list(service.cache.folder.glob(f"*/{ref}/*")) == []


def upload_batch(client, count: int):
    """PUT ``count`` small PNGs as one batch; the response."""
    boundary, body = encode_multipart({"data": [
        FileStorage(io.BytesIO(make_image("PNG")), filename=f"{number}.png")
        for number in range(count)
    ]})
    return client.put(
        "/storage/", data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_a_failed_batch_removes_all_it_can_and_logs_the_rest(
    apps, bucket, monkeypatch, caplog, capsys
):
    """The third save fails and so does the delete of the first: the second is
    removed all the same, the first is logged by reference, and ``progimage gc``
    with that reference removes it."""
    storage = apps[0].extensions["progimage"].storage
    saved = []
    save, delete = storage.save, storage.delete

    def save_two(ref, data, record):
        saved.append(ref)
        if len(saved) == 3:
            raise StorageUnavailable("the S3 store cannot be reached (test)")
        save(ref, data, record)

    def refuse_first(ref):
        if ref == saved[0]:
            raise StorageUnavailable("the S3 store cannot be reached (test)")
        delete(ref)

    monkeypatch.setattr(storage, "save", save_two)
    monkeypatch.setattr(storage, "delete", refuse_first)
    caplog.set_level(logging.INFO, logger="progimage")

    assert upload_batch(apps[0].test_client(), 3).status_code == 503

    assert keys(bucket, "t/originals/") == [f"t/originals/{saved[0]}"]
    [line] = [r for r in caplog.records if hasattr(r, "fields")
              and r.fields.get("event") == "rollback_incomplete"]
    assert line.fields["refs"] == [saved[0]]
    assert f"progimage gc {saved[0]}" in line.getMessage()
    monkeypatch.setenv("PROGIMAGE_STORAGE", f"s3://{bucket}/t")
    monkeypatch.setenv("PROGIMAGE_CACHE_MAX_BYTES", "0")
    assert cli.main(["gc", saved[0]]) == 0
    assert json.loads(capsys.readouterr().out)["originals"] == [saved[0]]
    assert keys(bucket, "t/originals/") == []


def test_gc_removes_orphans_stale_uploads_and_temporaries(apps, bucket, monkeypatch):
    """``progimage gc``, run with the instance's settings in its environment:
    variants whose original is gone (bucket and local cache), a multipart upload
    that was never finished and a temporary file are removed and reported; a live
    image's variants stay."""
    client = apps[0].test_client()
    kept, orphan = (upload(client, make_image("PNG")).get_data(as_text=True)
                    for _ in range(2))
    for ref in (kept, orphan):
        with client.get(f"/storage/{ref}.webp") as response:
            assert response.status_code == 200
    # The original goes, but not through the service: no purge follows.
    s3 = boto3.client("s3")
    s3.delete_object(Bucket=bucket, Key=f"t/originals/{orphan}")
    stale = f"t/originals/{uuid.uuid4()}"
    s3.create_multipart_upload(Bucket=bucket, Key=stale)
    cache = apps[0].extensions["progimage"].cache
    (cache.folder / kept[:2] / kept / ".abc.123").write_bytes(b"partial")
    monkeypatch.setenv("PROGIMAGE_STORAGE", f"s3://{bucket}/t")
    monkeypatch.setenv("PROGIMAGE_CACHE_DIR", str(cache.folder))

    done = subprocess.run(
        [PROGIMAGE, "gc", "--older-than", "0"], capture_output=True, timeout=60,
        check=True,
    )

    report = json.loads(done.stdout)
    assert report["orphaned_variants"] == [orphan]
    assert report["aborted_uploads"] == [stale]
    assert report["temporary_files"] == 1
    assert keys(bucket, f"t/variants/{orphan}/") == []
    assert len(keys(bucket, f"t/variants/{kept}/")) == 1
    assert not (cache.folder / orphan[:2] / orphan).exists()
    assert [path.name for path in (cache.folder / kept[:2] / kept).iterdir()] == [
        keys(bucket, f"t/variants/{kept}/")[0].rsplit("/", 1)[1]
    ]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_if_range_decides_between_the_range_and_the_whole_original(apps):
    """If-Range with the original's ETag: the range (206); with another ETag: the
    whole original (200), as RFC 9110 says."""
    data = make_image("PNG")
    client = apps[0].test_client()
    ref = upload(client, data).get_data(as_text=True)
    with client.get(f"/storage/{ref}") as response:
        etag = response.headers["ETag"]
    for if_range, status, body in ((etag, 206, data[:10]), ('"other"', 200, data)):
        headers = {"Range": "bytes=0-9", "If-Range": if_range}
        with client.get(f"/storage/{ref}", headers=headers) as response:
            assert response.status_code == status
            assert response.data == body
