"""Uploads by URL: the ``url`` of ``POST /storage/``, fetched under the rules."""

from flask import request

from ..exceptions import FetchRefused
from ..fetch import Fetched, Fetcher
from . import get_service

#: Longest URL taken: it is kept in the record (S3 metadata holds 2 KiB in all).
MAX_URL_LENGTH = 1024


def requested_url() -> str | None:
    """The ``url`` form field or JSON member of the request, if it has one.

    :raises FetchRefused: it is not a string, or too long to keep.
    """
    url = request.form.get("url")
    if url is None and request.is_json:
        body = request.get_json(silent=True)
        url = body.get("url") if isinstance(body, dict) else None
    if url is None:
        return None
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise FetchRefused(
            f"'url' must be a URL of at most {MAX_URL_LENGTH} characters"
        )
    return url.strip()


def fetch(url: str) -> Fetched:
    """The image at ``url``, within the upload limit and the fetch settings.

    :raises FetchRefused: the URL or an address on the way is refused.
    :raises FetchFailed: the remote side failed, or sent no image or too much.
    :raises FetchTimedOut: it took too long.
    """
    return Fetcher.from_settings(get_service().settings).fetch(url)
