"""Metrics over HTTP: every request measured, and ``GET /metrics`` to scrape them.

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``deploy/gunicorn.conf.py`` before
any worker starts) makes every worker write its samples to files there, and
``GET /metrics`` adds up the files of all workers, so any worker answers for the
whole instance.
"""

import functools
import re
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST

from ..metrics import Metrics

bp = Blueprint("metrics", __name__)
# The route label of a request that matched no route (a 404), so that probing random
# paths cannot make one time series per path.
UNMATCHED = "<unmatched>"
# The method label: these, or OTHER for any name a client makes up (each new label
# value would be a new series, in memory and in every worker's metrics file).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
OTHER = "other"
# A rule's variables without their converters: /storage/<image:name> counts as
# /storage/<name>, the label the docs and dashboards know.
CONVERTER = re.compile(r"<[^<>:]+:")


def init_app(app: Flask) -> None:
    """Give ``app`` its metrics, measure every request and serve ``/metrics``."""
    app.extensions["progimage.metrics"] = Metrics()
    app.before_request(_start_clock)
    app.after_request(_observe)
    app.register_blueprint(bp)


def get_metrics(app: Flask | None = None) -> Metrics:
    """The metrics of ``app``, by default of the current app."""
    return (app or current_app).extensions["progimage.metrics"]


@bp.route("/metrics")
def view_metrics() -> Response:
    """Every metric in the Prometheus text exposition format."""
    return Response(get_metrics().exposition(), content_type=CONTENT_TYPE_LATEST)


@functools.lru_cache(maxsize=None)  # one entry per URL rule of the app
def route_label(rule: str) -> str:
    """The ``route`` label of a URL rule: its text without converter names."""
    return CONVERTER.sub("<", rule)


def _start_clock() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.get("metrics_started", time.perf_counter())
    get_metrics().observe(
        request.method if request.method in METHODS else OTHER,
        route_label(request.url_rule.rule) if request.url_rule else UNMATCHED,
        response.status_code,
        time.perf_counter() - started,
        received=request.content_length,
        sent=response.content_length,
    )
    return response
