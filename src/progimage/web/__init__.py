"""The HTTP side: the app factory, and what every view shares."""

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
        access_log, api, bulk, cors, errors, focus, health, monitoring, pages, paths,
        process, ratelimits,
    )

    settings = settings or Settings.from_env()
    logs.configure(settings.log_format)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    monitoring.init_app(app)
    paths.init_app(app)
    metrics = monitoring.get_metrics(app)
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
    access_log.init_app(app)
    app.register_blueprint(pages.bp)
    errors.register(app)
    cors.init_app(app, settings)
    return app
