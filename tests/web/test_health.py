"""Liveness and readiness probes, on both storage backends."""

import shutil
from pathlib import Path

import boto3

from progimage import create_app
from progimage.config import Settings


def test_healthz_says_alive(client):
    """/healthz answers 200 while the process runs."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}


def test_readyz_on_a_writable_folder(client, settings):
    """/readyz answers 200 when a probe can be written, and leaves none behind."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}
    assert list(Path(settings.storage).rglob("*probe*")) == []


def test_readyz_503_when_the_folder_cannot_be_written(client, settings):
    """When uploads cannot be staged, /readyz is a 503 problem saying why."""
    incoming = Path(settings.storage) / ".incoming"
    shutil.rmtree(incoming)
    incoming.write_bytes(b"not a folder")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"].startswith(
        "the storage folder is not writable ("
    )


def test_readyz_on_a_bucket(s3_bucket):
    """/readyz answers 200 on a usable bucket, and leaves no probe object."""
    client = create_app(Settings(storage=f"s3://{s3_bucket}/x")).test_client()
    assert client.get("/readyz").status_code == 200
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=s3_bucket)


def test_readyz_503_when_the_bucket_is_gone(s3_bucket):
    """A bucket removed after start makes /readyz a 503 naming the S3 error."""
    client = create_app(Settings(storage=f"s3://{s3_bucket}")).test_client()
    boto3.client("s3").delete_bucket(Bucket=s3_bucket)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "NoSuchBucket" in response.get_json()["detail"]
    assert client.get("/healthz").status_code == 200
