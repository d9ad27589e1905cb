"""The HTTP side: the app factory, and what every view shares."""

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import logs
from ..config import Settings
from ..imaging.formats import FormatRegistry
from ..pool import ConverterPool
from ..service import ImageService
from ..storage import make_storage
from ..variants import make_cache

# What a request can ask the answer to be, API first: ``*/*`` (curl) gets plain text.
ANSWER_TYPES = ("text/plain", "application/json", "text/html")


class ProgImageFlask(Flask):
    """Flask, checking each view and hook once for ``async def`` instead of on
    every call (Flask's ``ensure_sync`` inspects the function each time: eight
    times per request here, a twentieth of a cached image's Python)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synced: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        """``func`` as Flask's ``ensure_sync`` makes it, remembered."""
        synced = self._synced.get(func)
        if synced is None:
            synced = self._synced[func] = super().ensure_sync(func)
        return synced


def get_service() -> ImageService:
    """The app's image service."""
    return current_app.extensions["progimage"]


def prefers_html() -> bool:
    """The client is a browser: it ranks a page above plain text and JSON."""
    return request.accept_mimetypes.best_match(ANSWER_TYPES) == "text/html"


def create_app(
    settings: Settings | None = None, converters: ConverterPool | None = None
) -> Flask:
    """Build the app from ``settings``, or from ``PROGIMAGE_*`` variables if none.

    The app converts with ``converters`` if given (their owner closes them), else
    with a pool of its own, which ``get_service().close()`` stops.
    """
    # Imported here, as the Flask tutorial does: the views import get_service from
    # this package.
    from . import (
        api, bulk, cors, errors, focus, health, monitoring, pages, paths, process,
        ratelimits,
    )
    from .bookkeeping import Bookkeeping

    settings = settings or Settings.from_env()
    logs.configure(settings.log_format)
    app = ProgImageFlask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    monitoring.init_app(app)
    paths.init_app(app)
    metrics = monitoring.get_metrics(app)
    # Inside ProxyFix: the access log names the forwarded client.
    app.wsgi_app = Bookkeeping(app.wsgi_app, metrics)
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.extensions["progimage"] = ImageService(
        settings=settings,
        storage=make_storage(settings.storage, settings.s3_endpoint),
        formats=FormatRegistry.from_pillow().reading(settings.postscript),
        cache=make_cache(settings, metrics.cache_write_errors.inc),
        metrics=metrics,
        pool=converters,
    )
    ratelimits.init_app(app, settings)
    app.register_blueprint(api.bp)
    app.register_blueprint(process.bp)
    app.register_blueprint(bulk.bp)
    app.register_blueprint(focus.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    errors.register(app)
    cors.init_app(app, settings)
    return app
