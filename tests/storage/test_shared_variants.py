"""Variants shared through the bucket: one instance converts, every other reuses."""

import dataclasses

import boto3
import pytest

from helpers import decode, make_image, upload
from progimage import create_app
from progimage.config import Settings, SettingsError
from progimage.storage.s3 import S3Variants


def conversions(app) -> float:
    """How many conversions ``app`` has made, whatever the formats."""
    return sum(
        sample.value
        for metric in app.extensions["progimage"].metrics.conversions.collect()
        for sample in metric.samples if sample.name.endswith("_total")
    )


def fetch(client, url: str):
    """GET ``url``; the response, read whole and closed (its file released)."""
    with client.get(url) as response:
        response.get_data()
    return response


def variant_keys(bucket: str, prefix: str) -> list[str]:
    """The keys of the variant objects under ``prefix`` in ``bucket``."""
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture(name="instances")
def _instances(s3_bucket, tmp_path):
    """Two apps on one bucket, each with a local cache of its own."""
    settings = Settings(storage=f"s3://{s3_bucket}/tenant")
    return [
        create_app(dataclasses.replace(settings, cache_dir=str(tmp_path / name)))
        for name in ("a", "b")
    ]


def test_a_conversion_is_made_once_for_every_instance(instances, s3_bucket):
    """B answers A's conversion from the bucket, byte for byte, without converting."""
    first, second = (app.test_client() for app in instances)
    ref = upload(first, make_image("PNG", size=(40, 30))).get_data(as_text=True)
    made = fetch(first, f"/storage/{ref}.webp?w=20")
    assert made.status_code == 200
    [key] = variant_keys(s3_bucket, f"tenant/variants/{ref}/")
    reused = fetch(second, f"/storage/{ref}.webp?w=20")
    assert reused.status_code == 200
    assert reused.data == made.data
    assert reused.headers["ETag"] == made.headers["ETag"]
    assert decode(reused.data).size == (20, 15)
    assert [conversions(app) for app in instances] == [1, 0]
    # B now has its own local copy: the bucket is not asked again.
    cache = instances[1].extensions["progimage"].cache
    assert (cache.folder / ref[:2] / ref / key.rsplit("/", 1)[1]).read_bytes() == (
        made.data
    )


def test_a_first_conversion_asks_the_bucket_once(instances):
    """A miss is one GET to the bucket and the conversion one PUT; a later request
    on the same instance is served locally without asking the bucket at all."""
    client = instances[0].test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    shared = instances[0].extensions["progimage"].cache.shared
    sent = []
    shared.client.meta.events.register(
        "before-send", lambda request, **_: sent.append(request.method)
    )
    assert fetch(client, f"/storage/{ref}.webp").status_code == 200
    assert sorted(sent) == ["GET", "PUT"]
    sent.clear()
    assert fetch(client, f"/storage/{ref}.webp").status_code == 200
    assert sent == []


def test_delete_purges_the_bucket_and_every_local_copy(instances, s3_bucket):
    """After a DELETE through A, B's local copy of a variant is a 404 too."""
    first, second = (app.test_client() for app in instances)
    ref = upload(first, make_image("PNG")).get_data(as_text=True)
    assert fetch(second, f"/storage/{ref}.gif").status_code == 200
    assert variant_keys(s3_bucket, f"tenant/variants/{ref}/")
    assert first.delete(f"/storage/{ref}").status_code == 204
    assert variant_keys(s3_bucket, f"tenant/variants/{ref}/") == []
    assert second.get(f"/storage/{ref}.gif").status_code == 404
    assert second.get(f"/storage/{ref}").status_code == 404


def test_off_keeps_variants_on_local_disk(s3_bucket, tmp_path):
    """PROGIMAGE_CACHE_BUCKET=off: nothing is written under variants/."""
    app = create_app(Settings(
        storage=f"s3://{s3_bucket}/tenant", cache_bucket="off",
        cache_dir=str(tmp_path),
    ))
    client = app.test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    assert fetch(client, f"/storage/{ref}.webp").status_code == 200
    assert variant_keys(s3_bucket, "tenant/variants/") == []


def test_a_bucket_of_its_own_for_local_originals(s3_bucket, tmp_path):
    """Originals on disk can share their variants through a bucket too."""
    app = create_app(Settings(
        storage=str(tmp_path / "data"), cache_bucket=f"s3://{s3_bucket}/cache"
    ))
    client = app.test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    assert fetch(client, f"/storage/{ref}.jpg").status_code == 200
    assert len(variant_keys(s3_bucket, f"cache/variants/{ref}/")) == 1


def test_an_unreachable_bucket_only_costs_conversions(s3_bucket, tmp_path, caplog):
    """When the shared tier fails, variants are converted and served all the same."""
    app = create_app(Settings(
        storage=str(tmp_path / "data"), cache_bucket=f"s3://{s3_bucket}/cache",
        cache_dir=str(tmp_path / "cache"),
    ))
    client = app.test_client()
    ref = upload(client, make_image("PNG", size=(12, 8))).get_data(as_text=True)
    shared = app.extensions["progimage"].cache.shared
    shared.bucket = "progimage-missing"  # every call now fails with NoSuchBucket
    response = fetch(client, f"/storage/{ref}.bmp")
    assert response.status_code == 200
    assert decode(response.data).size == (12, 8)
    assert "not stored" in caplog.text
    assert client.delete(f"/storage/{ref}").status_code == 204
    assert "not purged" in caplog.text


def test_malformed_reference_is_refused_before_any_request(s3_bucket):
    """A key cannot be steered outside variants/ by a crafted reference."""
    shared = S3Variants(s3_bucket, "cache")
    with pytest.raises(Exception, match="not an image reference"):
        shared.get("../originals/x", "name")


@pytest.mark.parametrize("value", ["bucket", "/var/cache", "http://bucket"])
def test_cache_bucket_must_be_an_s3_url(value):
    with pytest.raises(SettingsError, match="PROGIMAGE_CACHE_BUCKET"):
        Settings(cache_bucket=value)


def test_cache_bucket_must_exist(s3_bucket):
    with pytest.raises(SettingsError, match="does not exist"):
        create_app(Settings(cache_bucket="s3://progimage-missing/cache"))
