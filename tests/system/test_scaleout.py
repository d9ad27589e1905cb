"""Stateless instances sharing one S3 bucket over HTTP, alone and behind nginx."""

import io
import json
import re
import uuid

import boto3
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import live_servers
from helpers import decode, make_image

pytestmark = pytest.mark.system


@pytest.fixture(name="s3", scope="module")
def _s3(s3_endpoint):
    """A boto3 client of that server, as an operator would use it."""
    return boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


@pytest.fixture(name="bucket", scope="module")
def _bucket(s3):
    """A fresh bucket on the S3 server; its name."""
    name = f"progimage-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(name="instance_env", scope="module")
def _instance_env(s3_endpoint, bucket):
    """The environment of an instance on the shared bucket, as in docs/deploy.md."""
    return {
        **live_servers.CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint,
        "PROGIMAGE_STORAGE": f"s3://{bucket}/shared",
    }


@pytest.fixture(name="pair", scope="module")
def _pair(tmp_path_factory, instance_env):
    """Two gunicorn instances (two workers each) sharing the bucket, each with a
    local variant cache of its own, as on two machines; B logs JSON."""
    folders = [tmp_path_factory.mktemp(name) for name in ("a", "b")]
    first_env, second_env = (
        {**instance_env, "PROGIMAGE_CACHE_DIR": str(folder / "variants")}
        for folder in folders
    )
    second_env["PROGIMAGE_LOG_FORMAT"] = "json"
    with live_servers.Gunicorn(folders[0], first_env) as first, \
            live_servers.Gunicorn(folders[1], second_env) as second:
        yield first, second


@pytest.fixture(name="nginx", scope="module")
def _nginx(tmp_path_factory, pair):
    """nginx with deploy/nginx-scaleout.conf in front of the pair; its URL."""
    site = live_servers.scaleout_site([instance.port for instance in pair])
    with live_servers.nginx(tmp_path_factory.mktemp("nginx"), site) as url:
        yield url


def put_image(url: str, data: bytes, **headers: str) -> str:
    """Upload through ``url``; return the reference."""
    response = requests.put(
        f"{url}/storage/", files={"data": ("image", io.BytesIO(data))},
        headers=headers, timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.text


def test_uploaded_through_one_served_by_the_other(pair):
    """An original stored via instance A comes back byte-exact from instance B."""
    first, second = pair
    original = make_image("JPEG", size=(120, 90))
    ref = put_image(first.url, original)
    response = requests.get(f"{second.url}/storage/{ref}", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert int(response.headers["Content-Length"]) == len(original)
    assert response.content == original


def test_uploaded_through_one_converted_by_the_other(pair):
    """Instance B converts an image stored via instance A."""
    first, second = pair
    ref = put_image(first.url, make_image("PNG", size=(64, 40)))
    response = requests.get(f"{second.url}/storage/{ref}.webp", timeout=30)
    assert response.status_code == 200
    image = decode(response.content)
    assert (image.format, image.size) == ("WEBP", (64, 40))


def test_validators_agree_across_instances(pair):
    """The ETag from one instance gets a 304 from the other; ranges work on both."""
    first, second = pair
    original = make_image("BMP")
    ref = put_image(first.url, original)
    etag = requests.get(f"{first.url}/storage/{ref}", timeout=30).headers["ETag"]
    again = requests.get(
        f"{second.url}/storage/{ref}", headers={"If-None-Match": etag}, timeout=30
    )
    assert again.status_code == 304
    part = requests.get(
        f"{second.url}/storage/{ref}", headers={"Range": "bytes=2-9"}, timeout=30
    )
    assert part.status_code == 206
    assert part.content == original[2:10]


def test_large_upload_streams_to_s3_in_parts(pair, s3, bucket):
    """A 20 MiB original goes to S3 as a multipart upload and comes back whole."""
    first, second = pair
    original = make_image("BMP", size=(2600, 2600))
    assert len(original) > 16 * 1024 * 1024
    ref = put_image(first.url, original)
    head = s3.head_object(Bucket=bucket, Key=f"shared/originals/{ref}")
    assert head["ETag"].strip('"').endswith("-3")
    response = requests.get(f"{second.url}/storage/{ref}", timeout=60)
    assert response.content == original


def test_a_conversion_by_one_is_served_by_the_other(pair, s3, bucket):
    """B serves A's conversion from the bucket without converting it again."""
    first, second = pair
    ref = put_image(first.url, make_image("PNG", size=(48, 32)))
    made = requests.get(f"{first.url}/storage/{ref}.webp?w=24", timeout=30)
    assert made.status_code == 200
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"shared/variants/{ref}/")
    assert listing["KeyCount"] == 1
    before = scrape(second.url)
    reused = requests.get(f"{second.url}/storage/{ref}.webp?w=24", timeout=30)
    after = scrape(second.url)
    assert reused.content == made.content
    assert decode(reused.content).size == (24, 16)
    assert total(after, "progimage_conversions_total") == total(
        before, "progimage_conversions_total"
    )
    assert total(after, "progimage_cache_hits_total") == total(
        before, "progimage_cache_hits_total"
    ) + 1


def test_delete_through_one_is_a_404_on_both(pair, s3, bucket):
    """DELETE through A removes the original and every variant, B's copies too."""
    first, second = pair
    ref = put_image(first.url, make_image("PNG"))
    assert requests.get(f"{second.url}/storage/{ref}.jpg", timeout=30).ok
    deleted = requests.delete(f"{first.url}/storage/{ref}", timeout=30)
    assert deleted.status_code == 204
    statuses = [
        requests.get(f"{instance.url}/storage/{ref}{suffix}", timeout=30).status_code
        for instance in pair for suffix in ("", ".jpg", "/info")
    ]
    assert statuses == [404] * 6
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="shared/")
    assert not [item for item in listing.get("Contents", []) if ref in item["Key"]]


def test_purge_through_one_reaches_the_other_through_the_bucket(pair, s3, bucket):
    """DELETE /variants through A empties the shared bucket of the image's variants:
    B, which never had it locally, converts it again instead of serving A's old copy,
    with the same ETag; the original stays."""
    first, second = pair
    ref = put_image(first.url, make_image("PNG", size=(48, 32)))
    made = requests.get(f"{first.url}/storage/{ref}.webp?w=20", timeout=30)
    assert made.status_code == 200
    prefix = f"shared/variants/{ref}/"
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 1
    purged = requests.delete(f"{first.url}/storage/{ref}/variants", timeout=30)
    assert purged.status_code == 204
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 0
    before = scrape(second.url)
    again = requests.get(f"{second.url}/storage/{ref}.webp?w=20", timeout=30)
    after = scrape(second.url)
    assert again.status_code == 200
    assert decode(again.content).size == (20, 13)
    assert again.headers["ETag"] == made.headers["ETag"]
    assert total(after, "progimage_cache_misses_total") == total(
        before, "progimage_cache_misses_total"
    ) + 1
    assert total(after, "progimage_conversions_total") == total(
        before, "progimage_conversions_total"
    ) + 1
    assert requests.get(f"{second.url}/storage/{ref}", timeout=30).status_code == 200


def scrape(url: str) -> list:
    """Every sample of an instance's /metrics."""
    text = requests.get(f"{url}/metrics", timeout=30).text
    return [
        sample for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def total(samples: list, name: str) -> float:
    """The sum of the samples called ``name``, over all their labels."""
    return sum(sample.value for sample in samples if sample.name == name)


def test_metrics_add_up_every_worker(pair):
    """With two workers, /metrics counts the requests that each of them served."""
    first, _ = pair
    for _ in range(12):
        # A new connection each time, so that both workers take some.
        assert requests.get(f"{first.url}/healthz", timeout=30).status_code == 200
    text = requests.get(f"{first.url}/metrics", timeout=30).text
    [count] = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "progimage_http_requests_total"
        and sample.labels == {"method": "GET", "route": "/healthz", "status": "200"}
    ]
    assert count == 12


def test_json_access_log_from_gunicorn(pair):
    """The JSON instance writes one JSON access line carrying the request id."""
    _, second = pair
    requests.get(
        f"{second.url}/healthz", headers={"X-Request-ID": "scaleout-1"}, timeout=30
    )
    lines = [
        json.loads(line) for line in second.output().splitlines()
        if '"scaleout-1"' in line
    ]
    assert len(lines) == 1
    assert lines[0]["path"] == "/healthz" and lines[0]["status"] == 200


def test_nginx_spreads_requests_over_both_instances(nginx, pair):
    """Through nginx, an upload and its reads work, and both instances take reads."""
    original = make_image("PNG", size=(50, 30))
    ref = put_image(nginx, original)
    responses = [
        requests.get(f"{nginx}/storage/{ref}", timeout=30) for _ in range(4)
    ]
    assert [r.content for r in responses] == [original] * 4
    ids = [r.headers["X-Request-ID"] for r in responses]
    assert all(re.fullmatch("[0-9a-f]{32}", rid) for rid in ids)
    logs = [instance.output() for instance in pair]
    assert all(any(rid in log for rid in ids) for log in logs)


def test_nginx_converts_and_hides_metrics(nginx):
    """Conversions go through nginx; /metrics is not exposed publicly."""
    ref = put_image(nginx, make_image("GIF", size=(20, 10)))
    response = requests.get(f"{nginx}/storage/{ref}.png", timeout=30)
    assert decode(response.content).size == (20, 10)
    assert requests.get(f"{nginx}/metrics", timeout=30).status_code == 404


def test_nginx_refuses_an_upload_over_the_limit_with_a_problem(nginx):
    """An upload above the app's limit gets a 413 problem document from nginx, which
    never passes it on (passing it on raced into 502s)."""
    body = b"\0" * (50 * 1024 * 1024 + 1024)
    response = requests.put(
        f"{nginx}/storage/", files={"data": ("big", io.BytesIO(body))}, timeout=60
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == (
        "the request body is larger than the limit of 52,428,800 bytes")


def test_nginx_routes_around_a_stopped_instance(tmp_path, pair, instance_env):
    """When one instance goes away, nginx keeps serving every image from the other."""
    data = make_image("PNG")
    ref = put_image(pair[0].url, data)
    with live_servers.Gunicorn(tmp_path, instance_env, workers=1) as doomed, \
            live_servers.nginx(tmp_path, live_servers.scaleout_site(
                [pair[0].port, doomed.port])) as url:
        doomed.stop()
        answers = [requests.get(f"{url}/storage/{ref}", timeout=30) for _ in range(4)]
    assert [(a.status_code, a.content) for a in answers] == [(200, data)] * 4
