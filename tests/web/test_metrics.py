"""Prometheus metrics: requests, latency, conversions and bytes, as scraped."""

import random
import string
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers import make_image, upload
from progimage import create_app
from progimage.web.monitoring import route_label


def scrape(client) -> dict:
    """Every sample of /metrics as {(name, sorted label items): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def labels(**values) -> tuple:
    """Label items in the order ``scrape`` uses."""
    return tuple(sorted(values.items()))


def test_exposition_format(client):
    """/metrics answers the Prometheus text format."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "# TYPE progimage_http_requests_total counter" in response.get_data(
        as_text=True
    )


@pytest.mark.parametrize("path, route, status", [
    ("/healthz", "/healthz", "200"),
    ("/storage/not-a-reference", "/storage/<name>", "404"),
    ("/nowhere", "<unmatched>", "404"),
])
def test_requests_counted_by_route_and_status(client, path, route, status):
    """Each answered request is counted and timed under its route, not its path."""
    client.get(path)
    client.get(path)
    samples = scrape(client)
    key = labels(method="GET", route=route, status=status)
    assert samples[("progimage_http_requests_total", key)] == 2
    timed = labels(method="GET", route=route)
    assert samples[("progimage_http_request_duration_seconds_count", timed)] == 2


def fetch_all(client, ref: str, extensions: tuple[str, ...]) -> None:
    """GET the image ``ref`` converted to each extension in turn, all answering 200."""
    for extension in extensions:
        with client.get(f"/storage/{ref}.{extension}") as response:
            assert response.status_code == 200


def test_conversions_counted_by_formats(client):
    """A conversion is counted and timed by source and target format; a repeat of
    one (.jpeg after .jpg) is a cache hit, not a second conversion."""
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    fetch_all(client, ref, ("jpg", "webp", "jpeg"))
    samples = scrape(client)
    jpeg = labels(source="PNG", target="JPEG")
    assert samples[("progimage_conversions_total", jpeg)] == 1
    assert samples[("progimage_conversion_duration_seconds_count", jpeg)] == 1
    assert samples[("progimage_conversions_total", labels(
        source="PNG", target="WEBP"))] == 1
    assert samples[("progimage_cache_misses_total", labels(target="JPEG"))] == 1
    assert samples[("progimage_cache_misses_total", labels(target="WEBP"))] == 1
    assert samples[("progimage_cache_hits_total", labels(target="JPEG"))] == 1


def test_processing_options_are_their_own_variants(client):
    """Different options miss the cache once each; equal options hit it."""
    ref = upload(client, make_image("PNG", size=(40, 40))).get_data(as_text=True)
    fetch_all(client, ref, ("png?w=10", "png?w=20", "png?w=10&dpr=2", "png?w=10"))
    samples = scrape(client)
    png = labels(target="PNG")
    assert samples[("progimage_cache_misses_total", png)] == 2
    assert samples[("progimage_cache_hits_total", png)] == 2
    assert samples[("progimage_conversions_total", labels(
        source="PNG", target="PNG"))] == 2


def test_without_cache_every_request_converts(settings):
    """With the cache off every request converts, and no lookup is counted."""
    client = create_app(replace(settings, cache_max_bytes=0)).test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    fetch_all(client, ref, ("jpg", "jpeg"))
    samples = scrape(client)
    assert samples[("progimage_conversions_total", labels(
        source="PNG", target="JPEG"))] == 2
    assert not any(name == "progimage_cache_misses_total" for name, _ in samples)


def test_failed_conversion_is_not_counted(client):
    """A conversion that is refused adds no conversion sample."""
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    assert client.get(f"/storage/{ref}.xyz").status_code == 400
    assert not any(
        name == "progimage_conversions_total" for name, _ in scrape(client)
    )


def test_bytes_received_and_sent(client):
    """Upload bodies count as received, image bodies as sent, per route."""
    original = make_image("BMP", size=(50, 50))
    response = upload(client, original)
    ref = response.get_data(as_text=True)
    with client.get(f"/storage/{ref}") as response:
        assert response.status_code == 200
    samples = scrape(client)
    received = samples[("progimage_http_received_bytes_total",
                        labels(method="PUT", route="/storage/"))]
    assert len(original) < received < len(original) + 500
    assert samples[("progimage_http_sent_bytes_total",
                    labels(method="GET", route="/storage/<name>"))] == len(original)


def test_bodies_never_sent_make_no_series(client):
    """A GET receives no body, a HEAD sends none: their byte counters have no
    series (no lines of zeros), however many requests come."""
    for _ in range(3):
        client.get("/healthz").close()
        client.head("/healthz").close()
    samples = scrape(client)
    assert samples[("progimage_http_requests_total",
                    labels(method="HEAD", route="/healthz", status="200"))] == 3
    assert ("progimage_http_received_bytes_total",
            labels(method="GET", route="/healthz")) not in samples
    assert ("progimage_http_sent_bytes_total",
            labels(method="HEAD", route="/healthz")) not in samples
    assert samples[("progimage_http_sent_bytes_total",
                    labels(method="GET", route="/healthz"))] > 0


def test_cache_counters_are_exposed(client):
    """The variant cache's hit and miss counters are declared for dashboards."""
    text = client.get("/metrics").get_data(as_text=True)
    assert "# TYPE progimage_cache_hits_total counter" in text
    assert "# TYPE progimage_cache_misses_total counter" in text


def random_word(rng: random.Random, alphabet: str, longest: int) -> str:
    """A made-up token, as a client probing the server would send."""
    return "".join(rng.choices(alphabet, k=rng.randint(1, longest)))


def test_made_up_methods_and_paths_add_no_series(app, client):
    """200 requests with random methods and paths: methods are labelled from a
    closed set, routes by rule, so the exposition stays small."""
    rng = random.Random(11)
    for number in range(200):
        made_up_method = random_word(rng, string.ascii_uppercase, 12)
        method = "GET" if number % 4 == 0 else made_up_method
        made_up = random_word(rng, string.ascii_letters + string.digits + "/.", 40)
        path = rng.choice(["/healthz", "/storage/", "/storage/", "/"]) + made_up
        client.open(path, method=method).close()
    samples = scrape(client)
    requests = [dict(key) for name, key in samples
                if name == "progimage_http_requests_total"]
    assert {sample["method"] for sample in requests} == {"GET", "other"}
    rules = {route_label(rule.rule) for rule in app.url_map.iter_rules()}
    rules.add("<unmatched>")
    assert {sample["route"] for sample in requests} <= rules
    assert len(requests) <= 8
    assert len(samples) < 100


def test_file_folded_away_mid_scrape_is_listed_again(tmp_path, monkeypatch):
    """A dead worker's file removed between the listing and the reading of the
    multiprocess folder (gunicorn's master folds it) does not fail the scrape."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    from progimage.metrics import Metrics

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    archive = MmapedDict(str(tmp_path / "counter_archive.db"))
    key = mmap_key("progimage_x", "progimage_x_total", [], [], "x")
    archive.write_value(key, 7.0, 0.0)
    archive.close()
    read = MmapedDict.read_all_values_from_file
    gone = [str(tmp_path / "counter_4242.db")]

    def racing(filename):
        if gone:
            raise FileNotFoundError(gone.pop())
        return read(filename)

    monkeypatch.setattr(MmapedDict, "read_all_values_from_file", racing)
    assert b"progimage_x_total 7.0" in Metrics().exposition()
