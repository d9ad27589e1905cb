"""Metrics over HTTP: every request measured, and ``GET /metrics`` to scrape them.

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``deploy/gunicorn.conf.py`` before
any worker starts) makes every worker write its samples to files there, and
``GET /metrics`` adds up the files of all workers, so any worker answers for the
whole instance.
"""

import functools
import re

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.routing import Rule
from werkzeug.sansio.utils import get_content_length

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
    """Give ``app`` its metrics and serve ``/metrics`` (web/bookkeeping.py measures
    every request)."""
    app.extensions["progimage.metrics"] = Metrics()
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


def observe(
    metrics: Metrics, environ: dict, rule: Rule | None, status: int, seconds: float,
    sent: int | None,
) -> None:
    """Count the request of ``environ``, matched by ``rule`` (None: no route) and
    answered ``status`` with ``sent`` bytes in ``seconds``."""
    method = environ.get("REQUEST_METHOD", "")
    metrics.observe(
        method if method in METHODS else OTHER,
        route_label(rule.rule) if rule is not None else UNMATCHED,
        status,
        seconds,
        # What werkzeug's request.content_length reads, without a request object.
        received=get_content_length(environ.get("CONTENT_LENGTH"),
                                    environ.get("HTTP_TRANSFER_ENCODING")),
        sent=sent,
    )
