"""Prometheus metrics: requests, latencies, conversions, bytes and cache use.

Free of Flask, so that the service can count what it does; monitoring.py measures the
requests and serves ``/metrics``.

Each app owns a ``Metrics`` (so tests can build many apps); with
``PROMETHEUS_MULTIPROC_DIR`` set, the samples of every process of an instance add up.
"""

import contextlib
import os
import time
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

# Conversions take from milliseconds (small PNG) to tens of seconds (huge TIFF).
CONVERSION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Each fold removes one worker's files once: a few tries always find a stable list.
FOLD_RETRIES = 3


class Metrics:
    """The service's metrics, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Each label set's series, looked up once: .labels() costs more than the
        # count itself. Bounded, as the labels are (see web/monitoring.py).
        self._counted: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._children: dict[tuple, Counter] = {}
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
        self.cache_write_errors = Counter(
            "progimage_cache_write_errors",
            "Converted images answered but not kept: the variant cache could not "
            "be written (full or read-only disk)", registry=self.registry,
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

    def observe(
        self,
        method: str,
        route: str,
        status: int,
        seconds: float,
        received: int | None,
        sent: int | None,
    ) -> None:
        """Count a finished request: status, latency, bytes in and out."""
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self._counted[(method, route, status)] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        counted[0].inc()
        counted[1].observe(seconds)
        if received:
            self._child(self.received_bytes, method, route).inc(received)
        if method != "HEAD" and sent:
            self._child(self.sent_bytes, method, route).inc(sent)

    def cache_lookup(self, hit: bool, target: str) -> None:
        """Count a variant cache hit or miss of a conversion to ``target``."""
        self._child(self.cache_hits if hit else self.cache_misses, target).inc()

    def _child(self, counter: Counter, *labels: str) -> Counter:
        """``counter.labels(*labels)``, looked up once; made on first use only, as
        ``labels`` would, so that no series of zeros appears."""
        key = (counter, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        return child

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format, summed over workers if several."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        # gunicorn's master folds a dead worker's file into an archive and removes
        # it (deploy/gunicorn.conf.py): if that happens between the listing and the
        # reading of the files, list them again.
        for _ in range(FOLD_RETRIES):
            with contextlib.suppress(FileNotFoundError):
                return generate_latest(registry)
        return generate_latest(registry)
