"""Prometheus metrics: requests, latencies, conversions, bytes and cache use.

Each app owns a ``Metrics`` (so tests can build many apps). Under gunicorn,
``PROMETHEUS_MULTIPROC_DIR`` (set by ``deploy/gunicorn.conf.py`` before any worker
starts) makes every worker write its samples to files there, and ``GET /metrics``
adds up the files of all workers, so any worker answers for the whole instance.
"""

import contextlib
import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

bp = Blueprint("metrics", __name__)

# Conversions take from milliseconds (small PNG) to tens of seconds (huge TIFF).
CONVERSION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
UNMATCHED = "<unmatched>"


class Metrics:
    """The service's metrics, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        route = ["method", "route"]
        formats = ["source", "target"]
        self.requests = Counter(
            "progimage_http_requests", "Requests answered, by route and status",
            [*route, "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "progimage_http_request_duration_seconds",
            "Time to build a response (without sending its body)", route,
            registry=self.registry,
        )
        self.received_bytes = Counter(
            "progimage_http_received_bytes",
            "Request body bytes, such as uploads on route /storage/", route,
            registry=self.registry,
        )
        self.sent_bytes = Counter(
            "progimage_http_sent_bytes",
            "Response body bytes, such as images on route /storage/<name>", route,
            registry=self.registry,
        )
        self.conversions = Counter(
            "progimage_conversions", "Images converted, by source and target format",
            formats, registry=self.registry,
        )
        self.conversion_seconds = Histogram(
            "progimage_conversion_duration_seconds",
            "Time to convert an image, by source and target format", formats,
            buckets=CONVERSION_BUCKETS, registry=self.registry,
        )
        # Counted by the variant cache: a hit is a conversion not repeated.
        self.cache_hits = Counter(
            "progimage_cache_hits", "Converted images found in the variant cache",
            ["target"], registry=self.registry,
        )
        self.cache_misses = Counter(
            "progimage_cache_misses", "Converted images not in the variant cache",
            ["target"], registry=self.registry,
        )

    @contextlib.contextmanager
    def conversion(self, source: str, target: str) -> Iterator[None]:
        """Count and time the conversion in the ``with`` block, if it succeeds."""
        started = time.perf_counter()
        yield
        self.conversions.labels(source, target).inc()
        self.conversion_seconds.labels(source, target).observe(
            time.perf_counter() - started
        )

    def observe(self, response: Response, seconds: float) -> None:
        """Count a finished request: status, latency, bytes in and out."""
        route = request.url_rule.rule if request.url_rule else UNMATCHED
        labels = (request.method, route)
        self.requests.labels(*labels, str(response.status_code)).inc()
        self.latency.labels(*labels).observe(seconds)
        if request.content_length:
            self.received_bytes.labels(*labels).inc(request.content_length)
        if request.method != "HEAD" and response.content_length:
            self.sent_bytes.labels(*labels).inc(response.content_length)

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format, summed over workers if several."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


def init_app(app: Flask) -> None:
    """Give ``app`` its metrics, measure every request and serve ``/metrics``."""
    app.extensions["progimage.metrics"] = Metrics()
    app.before_request(_start_clock)
    app.after_request(_observe)
    app.register_blueprint(bp)


def get_metrics() -> Metrics:
    """The current app's metrics."""
    return current_app.extensions["progimage.metrics"]


@bp.route("/metrics")
def view_metrics() -> Response:
    """Every metric in the Prometheus text exposition format."""
    return Response(get_metrics().exposition(), content_type=CONTENT_TYPE_LATEST)


def _start_clock() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.get("metrics_started", time.perf_counter())
    get_metrics().observe(response, time.perf_counter() - started)
    return response
