"""Request paths: the ``image`` segment of ``/storage/<image>`` routes, and refusing
paths whose meaning changes when they are decoded (encoded slashes).

The server decodes ``%2F`` before routing, so ``/storage/<ref>%2Finfo`` would reach
the ``/info`` route; a proxy or cache in front sees one path segment instead. The
path as the client sent it is in ``RAW_URI`` (gunicorn, werkzeug) or ``REQUEST_URI``.
"""

from flask import Flask, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

ENCODED_SLASH = "%2f"


class ImageSegment(BaseConverter):
    """A path segment naming an image (``<ref>`` or ``<ref>.<ext>``): any but the
    fixed ``bulk``, so that ``/storage/bulk`` answers 405 to a GET (and OPTIONS
    lists POST alone) instead of being read as an image named "bulk"."""

    regex = r"(?!bulk\Z)[^/]+"


def init_app(app: Flask) -> None:
    """Route ``<image:...>`` segments; answer 404 to any request whose path holds
    an encoded slash."""
    app.url_map.converters["image"] = ImageSegment
    app.before_request(_refuse_encoded_slashes)


def _refuse_encoded_slashes() -> None:
    """:raises NotFound: the raw path holds ``%2F`` (any letter case)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    path = raw.partition("?")[0]
    if ENCODED_SLASH in path.lower():
        raise NotFound("encoded slashes (%2F) are not allowed in paths")
