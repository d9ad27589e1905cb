"""HTTP routes: parse the request, call the service, shape the response."""

import contextlib
import functools
import io
import re
from collections.abc import Callable
from datetime import datetime
from typing import BinaryIO

from flask import Blueprint, Response, current_app, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import is_resource_modified

from .exceptions import ImageNotFound, InvalidUpload
from .formats import ImageFormat
from .service import ImageService
from .storage import ImageRecord
from .variants import variant_tag

bp = Blueprint("api", __name__)

# A reference is a UUID4 in canonical form; anything else is a 404 with no disk access.
REFERENCE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
ONE_YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={ONE_YEAR}, immutable"


def get_service() -> ImageService:
    """The app's image service."""
    return current_app.extensions["progimage"]


@bp.route("/storage/", methods=["PUT", "POST"])
def upload() -> Response:
    """Store the multipart file ``data``; answer its reference as plain text.

    :raises InvalidUpload: the field is missing or the file is empty.
    """
    file = request.files.get("data")
    if file is None:
        raise InvalidUpload(
            "missing the multipart file field 'data' (curl -F data=@image.jpg)"
        )
    with contextlib.closing(file):
        if file.stream.seek(0, io.SEEK_END) == 0:
            raise InvalidUpload("the file in field 'data' is empty")
        file.stream.seek(0)
        ref = get_service().store(file.stream)
    response = Response(ref, mimetype="text/plain")
    response.headers["Location"] = f"/storage/{ref}"
    return response


@bp.route("/storage/<name>", methods=["GET"])
def download(name: str) -> Response:
    """The original (``<ref>``) or the image converted to ``<ref>.<ext>``."""
    ref, dot, extension = name.partition(".")
    if not REFERENCE.fullmatch(ref):
        raise ImageNotFound(f"'{ref}' is not an image reference")
    service = get_service()
    record = service.storage.record(ref)
    if not dot:
        original = functools.partial(_original, ref, record.mime)
        return _send(original, record.sha256, record)
    target = service.formats.for_extension(extension)
    etag = variant_tag(record.sha256, service.variant_key(target))
    response = _send(functools.partial(_variant, ref, target), etag, record)
    response.headers["Content-Disposition"] = f'inline; filename="{ref}.{extension}"'
    return response


def _send(respond: Callable[[], Response], etag: str, record: ImageRecord) -> Response:
    """Answer 304 without touching the file when the client's copy is current; else
    the file's response, with validators and ranges."""
    created = datetime.fromisoformat(record.created)
    if not is_resource_modified(request.environ, etag=etag, last_modified=created):
        response = Response(status=304)
    else:
        response = respond()
    response.set_etag(etag)
    response.last_modified = created
    # Set as a string: the cache_control accessors re-parse the header on every write.
    response.headers["Cache-Control"] = IMMUTABLE
    if response.status_code == 200 and "X-Accel-Redirect" not in response.headers:
        try:
            response.make_conditional(
                request, accept_ranges=True, complete_length=response.content_length
            )
        except RequestedRangeNotSatisfiable:
            response.close()
            raise
    return response


def _original(ref: str, mime: str) -> Response:
    """The original, or behind nginx (PROGIMAGE_ACCEL_REDIRECT) a pointer to it."""
    service = get_service()
    prefix = service.settings.accel_redirect
    internal = service.internal_path(ref) if prefix else None
    if internal is None:
        return _file(service.storage.open(ref), mime)
    response = Response(mimetype=mime)
    response.headers["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{internal}"
    return response


def _variant(ref: str, target: ImageFormat) -> Response:
    """The converted image: from the variant cache, or converted now. Never handed to
    nginx: nginx caches variants itself (deploy/nginx.conf)."""
    return _file(get_service().variant(ref, target), target.mime)


def _file(file: BinaryIO, mime: str) -> Response:
    """A file sent by the server's file wrapper (sendfile under gunicorn)."""
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    response = send_file(file, mimetype=mime, conditional=False)
    response.content_length = size
    return response


@bp.after_app_request
def _no_sniffing(response: Response) -> Response:
    # Browsers must trust our Content-Type, so an upload can never run as a page.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
