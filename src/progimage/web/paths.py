"""Refuse request paths whose meaning changes when they are decoded: encoded slashes.

The server decodes ``%2F`` before routing, so ``/storage/<ref>%2Finfo`` would reach
the ``/info`` route; a proxy or cache in front sees one path segment instead. The
path as the client sent it is in ``RAW_URI`` (gunicorn, werkzeug) or ``REQUEST_URI``.
"""

from flask import Flask, request
from werkzeug.exceptions import NotFound

ENCODED_SLASH = "%2f"


def init_app(app: Flask) -> None:
    """Answer 404 to any request whose path holds an encoded slash."""
    app.before_request(_refuse_encoded_slashes)


def _refuse_encoded_slashes() -> None:
    """:raises NotFound: the raw path holds ``%2F`` (any letter case)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    path = raw.partition("?")[0]
    if ENCODED_SLASH in path.lower():
        raise NotFound("encoded slashes (%2F) are not allowed in paths")
