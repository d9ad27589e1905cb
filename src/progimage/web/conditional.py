"""Conditional and range requests on stored images, in the order of RFC 9110 13.2.2."""

import functools
from datetime import datetime

from flask import Request, Response
from werkzeug.datastructures import Range
from werkzeug.exceptions import PreconditionFailed, RequestedRangeNotSatisfiable
from werkzeug.http import http_date, parse_date, parse_etags, parse_range_header
from werkzeug.sansio.http import is_resource_modified

# The request headers, as WSGI keys, that make a read conditional or partial.
CONDITIONS = (
    "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE", "HTTP_RANGE",
)
# Dates of the stored images seen lately, parsed and formatted once each.
DATES_KEPT = 4096


def is_plain(environ: dict) -> bool:
    """The request has no precondition and no ``Range``: the whole body is the
    answer, with nothing to compare (most reads: a check of five keys instead)."""
    return not any(name in environ for name in CONDITIONS)


@functools.lru_cache(maxsize=DATES_KEPT)
def parsed_date(created: str) -> datetime:
    """A record's ISO 8601 ``created`` as a datetime."""
    return datetime.fromisoformat(created)


@functools.lru_cache(maxsize=DATES_KEPT)
def http_last_modified(created: str) -> str:
    """A record's ``created`` as the HTTP date of a ``Last-Modified`` header."""
    return http_date(parsed_date(created))


def check_preconditions(request: Request, etag: str, last_modified: datetime) -> None:
    """Check ``If-Match``, or without it ``If-Unmodified-Since``, against the image.

    ``etag`` is unquoted. A date that does not parse is ignored, as RFC 9110 asks.

    :raises PreconditionFailed: If-Match names neither ``etag`` (strong comparison)
        nor ``*``; or the image is newer than If-Unmodified-Since.
    """
    if_match = request.headers.get("If-Match")
    if if_match:
        if not parse_etags(if_match).contains(etag):
            raise PreconditionFailed("If-Match names no current version of this image")
        return
    since = parse_date(request.headers.get("If-Unmodified-Since"))
    if since is not None and last_modified.replace(microsecond=0) > since:
        raise PreconditionFailed("the image is newer than If-Unmodified-Since")


def is_current(request: Request, etag: str, last_modified: datetime) -> bool:
    """Whether the client's copy is current: ``If-None-Match`` (weak comparison) or,
    without it, ``If-Modified-Since`` says so; the answer is then 304."""
    # werkzeug.http.is_resource_modified would also read If-Match, and take a
    # mismatch for "not modified": only the two headers of this step are passed.
    return not is_resource_modified(
        http_if_none_match=request.headers.get("If-None-Match"),
        http_if_modified_since=request.headers.get("If-Modified-Since"),
        etag=etag,
        last_modified=last_modified,
    )


def apply_range(
    response: Response, request: Request, etag: str, last_modified: datetime
) -> Response:
    """Make ``response`` (a whole 200 body) a 206 of the one byte range asked for.

    The whole body stays when there is no ``Range``, when it is in another unit,
    malformed or asks for several ranges, or when ``If-Range`` names another
    version: RFC 9110 14.2 lets a server ignore such a ``Range``. A suffix longer
    than the body (``bytes=-999999``) is the whole body.

    :raises RequestedRangeNotSatisfiable: the range starts past the end.
    """
    wanted = parse_range_header(request.headers.get("Range"))
    if wanted is None or wanted.units != "bytes" or len(wanted.ranges) != 1:
        return response
    if not _if_range_holds(request, etag, last_modified):
        return response
    length = response.content_length or 0
    start, end = wanted.ranges[0]
    if start < 0:
        # werkzeug refuses a suffix longer than the body; RFC 9110 14.1.2 does not.
        wanted = Range("bytes", [(max(length + start, 0), None)])
    if wanted.range_for_length(length) is None:
        raise RequestedRangeNotSatisfiable(length=length)
    # Only the checked range reaches werkzeug: the preconditions are decided above.
    environ = {"REQUEST_METHOD": request.method, "HTTP_RANGE": wanted.to_header()}
    return response.make_conditional(
        environ, accept_ranges=True, complete_length=length
    )


def _if_range_holds(request: Request, etag: str, last_modified: datetime) -> bool:
    """No ``If-Range``, or one naming this version (ETag or date)."""
    if_range = request.headers.get("If-Range")
    return if_range is None or not is_resource_modified(
        http_range=request.headers.get("Range"),
        http_if_range=if_range,
        etag=etag,
        last_modified=last_modified,
        ignore_if_range=False,
    )
