"""ProgImage: store images over HTTP and serve them back in any format."""

from flask import Flask

from . import access_log, api, cors, errors, health, logs, monitoring, pages, paths
from .config import Settings
from .formats import FormatRegistry
from .service import ImageService
from .storage import make_storage
from .variants import make_cache


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from ``settings``, or from ``PROGIMAGE_*`` variables if none."""
    settings = settings or Settings.from_env()
    logs.configure(settings.log_format)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    monitoring.init_app(app)
    paths.init_app(app)
    metrics = monitoring.get_metrics(app)
    app.extensions["progimage"] = ImageService(
        settings=settings,
        storage=make_storage(settings.storage, settings.s3_endpoint),
        formats=FormatRegistry.from_pillow().reading(settings.postscript),
        cache=make_cache(settings, metrics.cache_write_errors.inc),
        metrics=metrics,
    )
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    access_log.init_app(app)
    app.register_blueprint(pages.bp)
    errors.register(app)
    cors.init_app(app, settings)
    return app
