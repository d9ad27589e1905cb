"""HTTP routes: parse the request, call the service, shape the response."""

import io
import re
from typing import BinaryIO

from flask import (
    Blueprint, Response, current_app, jsonify, redirect, request, send_file, url_for,
)
from werkzeug.datastructures import FileStorage

from .exceptions import ImageNotFound, InvalidUpload
from .service import ImageService

bp = Blueprint("api", __name__)

# A reference is a UUID4 in canonical form; anything else is a 404 with no disk access.
REFERENCE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
ONE_YEAR = 365 * 24 * 3600
# What a request can ask the answer to be, API first: ``*/*`` (curl) gets plain text.
ANSWER_TYPES = ("text/plain", "application/json", "text/html")


def get_service() -> ImageService:
    """The app's image service."""
    return current_app.extensions["progimage"]


def prefers_html() -> bool:
    """The client is a browser: it ranks a page above plain text and JSON."""
    return request.accept_mimetypes.best_match(ANSWER_TYPES) == "text/html"


@bp.route("/storage/", methods=["PUT", "POST"])
def upload() -> Response:
    """Store the multipart file ``data``; answer its reference as plain text.

    Several ``data`` fields are a batch: all are stored, or none is, and the answer
    is the JSON list of their references in the order of the fields.

    A browser posting the upload form (it prefers HTML) is sent on to the page
    showing the stored images instead.

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
        refs = get_service().store_many(named)
        return _show(refs) if prefers_html() else jsonify(refs)
    _check_not_empty("the file in field 'data'", files[0].stream)
    ref = get_service().store(files[0].stream)
    if prefers_html():
        return _show([ref])
    response = Response(ref, mimetype="text/plain")
    response.headers["Location"] = f"/storage/{ref}"
    return response


def _show(refs: list[str]) -> Response:
    """See Other: the page showing the stored images; a reload re-posts nothing."""
    return redirect(url_for("pages.home", ref=refs), code=303)


def _label(number: int, file: FileStorage) -> str:
    """How an error names one file of a batch: its position and its file name."""
    return f"file {number} ({file.filename!r})" if file.filename else f"file {number}"


def _check_not_empty(label: str, stream: BinaryIO) -> None:
    """:raises InvalidUpload: the stream holds no bytes."""
    if stream.seek(0, io.SEEK_END) == 0:
        raise InvalidUpload(f"{label} is empty")
    stream.seek(0)


@bp.route("/storage/<name>", methods=["GET"])
def download(name: str) -> Response:
    """The original (``<ref>``) or the image converted to ``<ref>.<ext>``."""
    ref, dot, extension = name.partition(".")
    _check_reference(ref)
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


@bp.route("/storage/<ref>", methods=["DELETE"])
def delete(ref: str) -> Response:
    """Remove an image: afterwards it and everything derived from it answer 404.

    :raises ImageNotFound: nothing is stored under ``ref``.
    """
    _check_reference(ref)
    get_service().delete(ref)
    return Response(status=204)


@bp.route("/storage/<ref>/info", methods=["GET"])
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
        raise ImageNotFound(f"'{ref}' is not an image reference")


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
