"""Every error as RFC 9457 problem JSON; the one table from domain error to status."""

import json
import logging

from flask import Flask, Response, current_app, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from .api import prefers_html
from .exceptions import (
    ConversionFailed,
    ConversionTimedOut,
    ImageNotFound,
    ImageTooLarge,
    InvalidOptions,
    InvalidUpload,
    MissingCredentials,
    ServiceError,
    StorageFull,
    StorageUnavailable,
    StoredImageCorrupt,
    UnknownFormat,
    UnsupportedImage,
    WrongCredentials,
)

STATUS_BY_ERROR: dict[type[ServiceError], int] = {
    InvalidUpload: 400,
    InvalidOptions: 400,
    UnsupportedImage: 400,
    UnknownFormat: 400,
    ImageNotFound: 404,
    ImageTooLarge: 422,
    ConversionFailed: 422,
    MissingCredentials: 401,
    WrongCredentials: 403,
    ConversionTimedOut: 503,
    StorageUnavailable: 503,
    # Not the client's fault, and no 404 a cache would keep: the operator must look.
    StoredImageCorrupt: 503,
    StorageFull: 507,
}

# Headers that tell the client what to do next.
HEADERS_BY_ERROR: dict[type[ServiceError], dict[str, str]] = {
    MissingCredentials: {"WWW-Authenticate": 'Bearer realm="progimage"'},
    # A busy or slow converter: try again later, not at once.
    ConversionTimedOut: {"Retry-After": "30"},
    StorageFull: {"Retry-After": "300"},
}

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    """Render every error the app can answer as ``application/problem+json``."""
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def problem(status: int, detail: str) -> Response:
    """A problem document: short, readable in a terminal, no internals.

    A browser (the upload form without JavaScript) gets the same as a page.
    """
    title = HTTP_STATUS_CODES.get(status, "Error")
    if prefers_html():
        page = render_template("error.html", status=status, title=title, detail=detail)
        return Response(page, status=status, mimetype="text/html")
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    return Response(
        json.dumps(body) + "\n", status=status, mimetype="application/problem+json"
    )


def _service_error(error: ServiceError) -> Response:
    response = problem(STATUS_BY_ERROR.get(type(error), 400), error.detail)
    response.headers.update(HEADERS_BY_ERROR.get(type(error), {}))
    return response


def _http_error(error: HTTPException) -> Response:
    detail = error.description or ""
    if error.code == 413 and current_app.config.get("MAX_CONTENT_LENGTH"):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        detail = f"the request body is larger than the limit of {limit:,} bytes"
    response = problem(error.code or 500, detail)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(error: Exception) -> Response:
    log.exception("unexpected error")
    return problem(500, "the server failed to handle this request; it has been logged")
