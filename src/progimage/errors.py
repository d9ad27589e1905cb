"""Every error as RFC 9457 problem JSON; the one table from domain error to status."""

import json
import logging

from flask import Flask, Response, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from .api import prefers_html
from .exceptions import (
    ConversionFailed,
    ImageNotFound,
    ImageTooLarge,
    InvalidOptions,
    InvalidUpload,
    ServiceError,
    StorageUnavailable,
    UnknownFormat,
    UnsupportedImage,
)

STATUS_BY_ERROR: dict[type[ServiceError], int] = {
    InvalidUpload: 400,
    InvalidOptions: 400,
    UnsupportedImage: 400,
    UnknownFormat: 400,
    ImageNotFound: 404,
    ImageTooLarge: 422,
    ConversionFailed: 422,
    StorageUnavailable: 503,
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
    return problem(STATUS_BY_ERROR.get(type(error), 400), error.detail)


def _http_error(error: HTTPException) -> Response:
    response = problem(error.code or 500, error.description or "")
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(error: Exception) -> Response:
    log.exception("unexpected error")
    return problem(500, "the server failed to handle this request; it has been logged")
