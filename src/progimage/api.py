"""HTTP routes: parse the request, call the service, shape the response."""

import io
import re

from flask import Blueprint, Response, current_app, request, send_file

from .auth import readers_only, writers_only
from .exceptions import ImageNotFound, InvalidUpload
from .service import ImageService

bp = Blueprint("api", __name__)

# A reference is a UUID4 in canonical form; anything else is a 404 with no disk access.
REFERENCE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
ONE_YEAR = 365 * 24 * 3600


def get_service() -> ImageService:
    """The app's image service."""
    return current_app.extensions["progimage"]


@bp.route("/storage/", methods=["PUT", "POST"])
@writers_only
def upload() -> Response:
    """Store the multipart file ``data``; answer its reference as plain text.

    :raises InvalidUpload: the field is missing or the file is empty.
    """
    file = request.files.get("data")
    if file is None:
        raise InvalidUpload(
            "missing the multipart file field 'data' (curl -F data=@image.jpg)"
        )
    if file.stream.seek(0, io.SEEK_END) == 0:
        raise InvalidUpload("the file in field 'data' is empty")
    file.stream.seek(0)
    ref = get_service().store(file.stream)
    response = Response(ref, mimetype="text/plain")
    response.headers["Location"] = f"/storage/{ref}"
    return response


@bp.route("/storage/<name>", methods=["GET"])
@readers_only
def download(name: str) -> Response:
    """The original (``<ref>``) or the image converted to ``<ref>.<ext>``."""
    ref, dot, extension = name.partition(".")
    if not REFERENCE.fullmatch(ref):
        # Echo at most a UUID's length of what the client sent.
        raise ImageNotFound(f"'{ref[:36]}' is not an image reference")
    service = get_service()
    if not dot:
        record = service.storage.record(ref)
        return _send(service.storage.open(ref), record.mime, record.sha256)
    target = service.formats.for_extension(extension)
    record = service.storage.record(ref)
    data = service.convert(ref, target)
    response = _send(io.BytesIO(data), target.mime, f"{record.sha256}.{target.name}")
    response.headers["Content-Disposition"] = f'inline; filename="{ref}.{extension}"'
    return response


@bp.route("/openapi.json", methods=["GET"])
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    with current_app.open_resource("openapi.json") as document:
        return Response(document.read(), mimetype="application/json")


def _send(file: io.BufferedIOBase, mime: str, etag: str) -> Response:
    """Send a file with validators, so that repeats and ranges are cheap."""
    response = send_file(
        file, mimetype=mime, etag=etag, conditional=True, max_age=ONE_YEAR
    )
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.after_app_request
def _no_sniffing(response: Response) -> Response:
    # Browsers must trust our Content-Type, so an upload can never run as a page.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
