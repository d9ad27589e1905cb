"""HTTP routes: parse the request, call the service, shape the response."""

import io
from typing import BinaryIO

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from .auth import readers_only, writers_only
from .exceptions import ImageNotFound, InvalidUpload
from .metrics import get_metrics
from .options import REFERENCE
from .options import parse as parse_options
from .service import ImageService

bp = Blueprint("api", __name__)

ONE_YEAR = 365 * 24 * 3600


def get_service() -> ImageService:
    """The app's image service."""
    return current_app.extensions["progimage"]


@bp.route("/storage/", methods=["PUT", "POST"])
@writers_only
def upload() -> Response:
    """Store the multipart file ``data``; answer its reference as plain text.

    Several ``data`` fields are a batch: all are stored, or none is, and the answer
    is the JSON list of their references in the order of the fields.

    :raises InvalidUpload: the field is missing or a file is empty.
    """
    files = request.files.getlist("data")
    if not files:
        raise InvalidUpload(
            "missing the multipart file field 'data' (curl -F data=@image.jpg)"
        )
    if len(files) > 1:
        named = {_label(number, file): file.stream for number, file in
                 enumerate(files, start=1)}
        for label, stream in named.items():
            _check_not_empty(label, stream)
        return jsonify(get_service().store_many(named))
    _check_not_empty("the file in field 'data'", files[0].stream)
    ref = get_service().store(files[0].stream)
    response = Response(ref, mimetype="text/plain")
    response.headers["Location"] = f"/storage/{ref}"
    return response


def _label(number: int, file: FileStorage) -> str:
    """How an error names one file of a batch: its position and its file name."""
    return f"file {number} ({file.filename!r})" if file.filename else f"file {number}"


def _check_not_empty(label: str, stream: BinaryIO) -> None:
    """:raises InvalidUpload: the stream holds no bytes."""
    if stream.seek(0, io.SEEK_END) == 0:
        raise InvalidUpload(f"{label} is empty")
    stream.seek(0)


@bp.route("/storage/<name>", methods=["GET"])
@readers_only
def download(name: str) -> Response:
    """The original (``<ref>``) or the image converted to ``<ref>.<ext>``, after the
    operations in the query string (without an extension: in the original's format).

    :raises InvalidOptions: a query parameter is unknown or has a bad value.
    """
    ref, dot, extension = name.partition(".")
    _check_reference(ref)
    options = parse_options(request.args.to_dict(flat=False))
    service = get_service()
    record = service.storage.record(ref)
    if not dot and not options.key():
        return _send(
            service.storage.open(ref), record.mime, record.sha256, record.size
        )
    target = service.formats.for_extension(extension or _extension(record.format))
    with get_metrics().conversion(record.format, target.name):
        data = service.convert(ref, target, options)
    etag = ".".join(filter(None, (record.sha256, target.name, options.key())))
    response = _send(io.BytesIO(data), target.mime, etag, len(data))
    filename = f"{ref}.{extension or target.extension}"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@bp.route("/openapi.json", methods=["GET"])
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    with current_app.open_resource("openapi.json") as document:
        return Response(document.read(), mimetype="application/json")


def _extension(format_name: str) -> str:
    """The extension to write an original's format, PNG if it is read-only."""
    fmt = get_service().formats.for_name(format_name)
    return fmt.extension if fmt.writable else "png"


@bp.route("/storage/<ref>", methods=["DELETE"])
@writers_only
def delete(ref: str) -> Response:
    """Remove an image: afterwards it and everything derived from it answer 404.

    :raises ImageNotFound: nothing is stored under ``ref``.
    """
    _check_reference(ref)
    get_service().delete(ref)
    return Response(status=204)


@bp.route("/storage/<ref>/info", methods=["GET"])
@readers_only
def info(ref: str) -> Response:
    """What is known about a stored image, as JSON.

    :raises ImageNotFound: nothing is stored under ``ref``.
    """
    _check_reference(ref)
    record = get_service().info(ref)
    return jsonify(
        format=record.format,
        mime=record.mime,
        width=record.width,
        height=record.height,
        mode=record.mode,
        frames=record.frames,
        animated=record.frames > 1,
        bytes=record.size,
        sha256=record.sha256,
        orientation=record.orientation,
        has_alpha=record.has_alpha,
        created=record.created,
    )


def _check_reference(ref: str) -> None:
    """:raises ImageNotFound: ``ref`` is not a canonical UUID4, so nothing is there."""
    if not REFERENCE.fullmatch(ref):
        # Echo at most a UUID's length of what the client sent.
        raise ImageNotFound(f"'{ref[:36]}' is not an image reference")


def _send(file: BinaryIO, mime: str, etag: str, size: int) -> Response:
    """Send a file with validators, so that repeats and ranges are cheap.

    The size comes from the caller: werkzeug cannot measure a stream from S3, and
    without it there would be no Content-Length and no ranges.
    """
    response = send_file(
        file, mimetype=mime, etag=etag, max_age=ONE_YEAR, conditional=False
    )
    response.content_length = size
    try:
        response.make_conditional(request, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:
        file.close()
        raise
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.after_app_request
def _no_sniffing(response: Response) -> Response:
    # Browsers must trust our Content-Type, so an upload can never run as a page.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
