"""Prometheus metrics: requests, latency, conversions and bytes, as scraped."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import make_image, upload


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


def test_conversions_counted_by_formats(client):
    """A conversion is counted and timed by source and target format."""
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    client.get(f"/storage/{ref}.jpg")
    client.get(f"/storage/{ref}.webp")
    client.get(f"/storage/{ref}.jpeg")
    samples = scrape(client)
    jpeg = labels(source="PNG", target="JPEG")
    assert samples[("progimage_conversions_total", jpeg)] == 2
    assert samples[("progimage_conversion_duration_seconds_count", jpeg)] == 2
    assert samples[("progimage_conversions_total", labels(
        source="PNG", target="WEBP"))] == 1


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


def test_cache_counters_are_exposed(client):
    """The variant cache's hit and miss counters are declared for dashboards."""
    text = client.get("/metrics").get_data(as_text=True)
    assert "# TYPE progimage_cache_hits_total counter" in text
    assert "# TYPE progimage_cache_misses_total counter" in text
