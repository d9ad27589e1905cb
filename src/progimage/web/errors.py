"""Every error as RFC 9457 problem JSON; the one table from domain error to status."""

import json
import logging
from types import FrameType

from flask import Flask, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ..exceptions import (
    ConversionFailed,
    ConversionOverran,
    ConversionTimedOut,
    ConvertersBusy,
    ExpiredSignature,
    FetchFailed,
    FetchRefused,
    FetchTimedOut,
    ImageNotFound,
    ImageTooLarge,
    InvalidOptions,
    InvalidUpload,
    MissingCredentials,
    NotAcceptable,
    MissingSignature,
    RateLimited,
    ServiceError,
    StorageFull,
    StorageUnavailable,
    StoredImageCorrupt,
    UnknownFormat,
    UnsupportedImage,
    WrongCredentials,
    WrongSignature,
)
from . import prefers_html
from .pages import POLICY

STATUS_BY_ERROR: dict[type[ServiceError], int] = {
    InvalidUpload: 400,
    InvalidOptions: 400,
    UnsupportedImage: 400,
    UnknownFormat: 400,
    ImageNotFound: 404,
    NotAcceptable: 406,
    ImageTooLarge: 422,
    ConversionFailed: 422,
    MissingCredentials: 401,
    WrongCredentials: 403,
    MissingSignature: 403,
    WrongSignature: 403,
    ExpiredSignature: 403,
    RateLimited: 429,
    ConversionTimedOut: 503,
    ConversionOverran: 503,
    ConvertersBusy: 503,
    StorageUnavailable: 503,
    # Not the client's fault, and no 404 a cache would keep: the operator must look.
    StoredImageCorrupt: 503,
    StorageFull: 507,
    # A URL to fetch: refused by the rules; the remote failing; or too slow.
    FetchRefused: 400,
    FetchFailed: 502,
    FetchTimedOut: 504,
}

# Headers that tell the client what to do next.
HEADERS_BY_ERROR: dict[type[ServiceError], dict[str, str]] = {
    MissingCredentials: {"WWW-Authenticate": 'Bearer realm="progimage"'},
    # A busy or slow converter: try again later, not at once.
    ConversionTimedOut: {"Retry-After": "30"},
    ConversionOverran: {"Retry-After": "30"},
    # Refused before any wait: the queue moves within the time limit.
    ConvertersBusy: {"Retry-After": "5"},
    StorageFull: {"Retry-After": "300"},
    # The answer depends on the Accept header: caches must key on it.
    NotAcceptable: {"Vary": "Accept"},
}

# Where werkzeug raises its 413s for multipart bodies (pinned by tests/test_limits.py):
# MultipartDecoder.next_event counts parts against MAX_FORM_PARTS; receive_data and
# MultiPartParser.parse hold a non-file field to MAX_FORM_MEMORY_SIZE. Anything else
# is the body size (Content-Length, or a streamed body cut off at the limit).
MULTIPART_PARTS = "next_event"
MULTIPART_FIELD_SIZE = frozenset({"receive_data", "parse"})

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
        response = Response(page, status=status, mimetype="text/html")
        # The same policy as the upload page, whichever route failed.
        response.headers["Content-Security-Policy"] = POLICY
        return response
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
    if isinstance(error, RateLimited):
        # When the client's window resets: known only when the limit is hit.
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _http_error(error: HTTPException) -> Response:
    detail = error.description or ""
    if error.code == 413 and current_app.config.get("MAX_CONTENT_LENGTH"):
        detail = _too_large(error)
    response = problem(error.code or 500, detail)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _too_large(error: HTTPException) -> str:
    """Which of werkzeug's limits a 413 hit: its exception is the same for all
    three, only the function that raised it tells them apart."""
    raised_in = _innermost_frame(error).f_code.co_name
    if raised_in == MULTIPART_PARTS:
        return (
            f"the multipart body has more than {request.max_form_parts:,} parts "
            "(fields and files)"
        )
    if raised_in in MULTIPART_FIELD_SIZE:
        return (
            "a multipart field that is not a file is larger than "
            f"{request.max_form_memory_size:,} bytes"
        )
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return f"the request body is larger than the limit of {limit:,} bytes"


def _innermost_frame(error: BaseException) -> FrameType:
    trace = error.__traceback__
    while trace.tb_next is not None:
        trace = trace.tb_next
    return trace.tb_frame


def _unexpected_error(error: Exception) -> Response:
    log.exception("unexpected error")
    return problem(500, "the server failed to handle this request; it has been logged")
