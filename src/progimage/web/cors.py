"""CORS for browser upload forms, through the maintained Flask-Cors extension."""

from flask import Flask
from flask_cors import CORS

from ..config import Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Allow the configured origins (``PROGIMAGE_CORS_ORIGINS``), or none at all."""
    if not settings.origins:
        return
    CORS(
        app,
        origins=list(settings.origins),
        methods=["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        # Scripts may read where an upload went, its ETag, how long to wait to retry
        # and the quality max_bytes chose.
        expose_headers=[
            "ETag", "Location", "Retry-After", "WWW-Authenticate", "X-Quality",
        ],
        max_age=3600,
    )
