"""HTTP routes: parse the request, call the service, shape the response."""

import contextlib
import functools
import io
import time
from collections.abc import Callable, Mapping
from typing import BinaryIO

from flask import (
    Blueprint, Response, current_app, jsonify, redirect, request, url_for,
)
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import quote_etag
from werkzeug.wsgi import wrap_file

from ..eager import EagerError, parse_eager
from ..exceptions import InvalidOptions, InvalidUpload
from ..options import NO_OPTIONS, ImageOptions, parse as parse_options
from ..presets import expand as expand_presets
from ..references import check_reference
from .. import srcsets
from ..service import Download
from ..sizes import restrict
from ..storage import ImageRecord
from . import bodies, fetching, get_service, prefers_html, ratelimits, uploaded
from .auth import readers_only, writers_only
from .conditional import (
    apply_range, check_preconditions, http_last_modified, is_current, is_plain,
    parsed_date,
)
from .hints import advertise, apply_hints
from .signing import checked_query, expires

bp = Blueprint("api", __name__)

ONE_YEAR = 365 * 24 * 3600
# As user-content hosts do: opened as a page, a stored file can run nothing, load
# nothing and reach no cookie or storage of this origin.
SANDBOX = "default-src 'none'; sandbox"
IMMUTABLE = f"public, max-age={ONE_YEAR}, immutable"
# With private reads an answer is for its key holder alone: shared caches must not
# keep it, and the browser asks again each time (a 304 without the body), so that a
# DELETE or a revoked key takes effect at once.
PRIVATE = "private, no-cache"
# The redirect of <ref>.auto depends on the Accept header: a browser may keep it a
# minute, a shared cache (which may ignore Vary) never; the concrete URL caches.
AUTO_REDIRECT_CACHE = "private, max-age=60"


# /storage too, without a redirect: uuid=$(curl -X PUT $host/storage ...) would
# capture the redirect's HTML. One rule, so metrics count both as /storage/.
@bp.route("/storage/", methods=["PUT", "POST"], strict_slashes=False)
@writers_only
def upload() -> Response:
    """Store the multipart file ``data``, or the body itself when its type is
    ``image/*`` (no form to parse); answer its reference as plain text, or as JSON
    with signed preset URLs when asked (see ``uploaded``).

    Several ``data`` fields are a batch: all are stored, or none is, and the answer
    is the JSON list of their references in the order of the fields.

    A browser posting the upload form (it prefers HTML) is sent on to the page
    showing the stored images instead.

    :raises InvalidUpload: the field is missing or a file is empty.
    :raises ServiceError: what ``ImageService.store`` (``store_many``) raises.
    :raises RateLimited: the client has made as many uploads as it may.
    """
    ratelimits.count("uploads")
    if bodies.is_raw_image():
        eager = _eager(request.args)  # the body is the image: no form to look in
        with bodies.spooled(request.stream) as body:
            _check_not_empty("the body", body)
            ref = get_service().store(body, eager=eager)
        return _show([ref]) if prefers_html() else uploaded.stored(ref)
    files = request.files.getlist("data")
    url = None if files else fetching.requested_url()
    eager = _eager(request.values)
    if url is not None:
        with fetching.fetch(url).file as fetched:
            _check_not_empty(f"the image at {url}", fetched)
            ref = get_service().store(fetched, source_url=url, eager=eager)
        return _show([ref]) if prefers_html() else uploaded.stored(ref)
    if not files:
        raise InvalidUpload(
            "missing the multipart file field 'data' (curl -F data=@image.jpg), "
            "the field 'url', or an image/* body"
        )
    with contextlib.ExitStack() as uploads:
        for file in files:
            uploads.callback(file.close)
        if len(files) > 1:
            named = {_label(number, file): file.stream for number, file in
                     enumerate(files, start=1)}
            for label, stream in named.items():
                _check_not_empty(label, stream)
            refs = get_service().store_many(named)
            return _show(refs) if prefers_html() else jsonify(refs)
        _check_not_empty("the file in field 'data'", files[0].stream)
        ref = get_service().store(files[0].stream, eager=eager)
    return _show([ref]) if prefers_html() else uploaded.stored(ref)


def _eager(fields: Mapping[str, str]) -> tuple[str, ...]:
    """The eager variants the upload asks for in ``fields`` (its form fields or
    query parameters) as ``eager``.

    :raises InvalidOptions: one names no preset, or a malformed extension.
    """
    try:
        return parse_eager(fields.get("eager", ""),
                           get_service().settings.preset_table)
    except EagerError as error:
        raise InvalidOptions(f"field 'eager': {error}") from None


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


@bp.route("/storage/<image:name>", methods=["GET"])
@readers_only
def download(name: str) -> Response:
    """The original (``<ref>``) or the image converted to ``<ref>.<ext>``, after the
    operations in the query string (without an extension: in the original's format).

    :raises ImageNotFound: ``ref`` is not a reference, or nothing is stored there.
    :raises InvalidOptions: a query parameter is unknown or has a bad value, the
        preset is unknown, PROGIMAGE_ONLY_PRESETS refuses the parameters, or a
        size is not one of the allowed ones.
    :raises UnknownFormat: the extension names no format we write.
    :raises NotAcceptable: ``<ref>.auto``, and the Accept header takes no candidate.
    :raises ServiceError: what ``ImageService.variant`` raises converting it, and
        what ``signing.checked_query`` raises when signed reads are on.
    :raises RateLimited: the client has made as many reads, or started as many
        conversions, as it may.
    """
    ratelimits.count("reads")
    ref, dot, extension = name.partition(".")
    check_reference(ref)
    options = requested_options(
        f"/storage/{name}", conversion=bool(dot),
        widest=lambda: get_service().info(ref).upright_width,
    )
    found = get_service().resolve(
        ref, extension if dot else None, options, request.accept_mimetypes
    )
    if found.negotiated:
        return _negotiated(found)
    if found.target is None:
        original = functools.partial(_original, ref, found.record)
        return _sandboxed(_send(original, found.etag, found.record))
    response = _send(functools.partial(_variant, found), found.etag, found.record)
    filename = f"{ref}.{extension or found.target.extension}"
    response.headers.add("Content-Disposition", f'inline; filename="{filename}"')
    return _sandboxed(response)


def requested_options(
    path: str, conversion: bool, query: dict[str, list[str]] | None = None,
    widest: Callable[[], int] | None = None,
) -> ImageOptions:
    """The options of a read of ``path`` from the request's query (or ``query``):
    signature checked, presets expanded, client hints applied (a hinted width at
    most ``widest()``, the original's), sizes held to the allowed ones;
    ``conversion``: the read converts.

    :raises InvalidOptions: see ``download``.
    :raises ServiceError: what ``signing.checked_query`` raises.
    """
    # The signature covers the query as sent: presets and hints are expanded after.
    query = checked_query(path, conversion, query)
    if not query:
        return NO_OPTIONS  # what the steps below make of nothing, sooner
    settings = get_service().settings
    query = expand_presets(query, settings.preset_table, settings.only_presets)
    query = apply_hints(query, settings.allowed_sizes, widest)
    query = restrict(query, settings.allowed_sizes, settings.snap_sizes)
    return parse_options(query)


def _negotiated(found: Download) -> Response:
    """``<ref>.auto``: the variant in the chosen format, or (PROGIMAGE_AUTO_REDIRECT)
    a redirect to its concrete URL; either way varying on Accept."""
    extension = found.target.extension
    if get_service().settings.auto_redirect:
        query = request.query_string.decode("ascii", "replace")
        location = f"/storage/{found.ref}.{extension}" + (f"?{query}" if query else "")
        response = redirect(location, code=302)
        response.headers["Cache-Control"] = AUTO_REDIRECT_CACHE
    else:
        response = _send(functools.partial(_variant, found), found.etag, found.record)
        filename = f"{found.ref}.{extension}"
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.vary.add("Accept")
    return _sandboxed(response)


def _sandboxed(response: Response) -> Response:
    """An image answer: whatever its bytes, a browser must not run them; and a
    signed URL's answer is kept by caches no longer than the URL is valid. It asks
    for the client hints, as an image service's answers do."""
    response.headers.add("Content-Security-Policy", SANDBOX)
    advertise(response)
    deadline = expires()
    if deadline is not None and not get_service().settings.private_reads:
        left = max(0, min(ONE_YEAR, deadline - int(time.time())))
        response.headers["Cache-Control"] = f"public, max-age={left}"
    return response


@bp.route("/openapi.json", methods=["GET"])
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    with current_app.open_resource("openapi.json") as document:
        return Response(document.read(), mimetype="application/json")


@bp.route("/storage/<image:ref>", methods=["DELETE"])
@writers_only
def delete(ref: str) -> Response:
    """Remove an image: afterwards it and everything derived from it answer 404.

    :raises ImageNotFound: nothing is stored under ``ref``.
    """
    return _removed(ref, get_service().delete)


@bp.route("/storage/<ref>/variants", methods=["DELETE"])
@writers_only
def purge_variants(ref: str) -> Response:
    """Remove every cached variant of an image, here and in the shared bucket; the
    original stays.

    :raises ImageNotFound: nothing is stored under ``ref``.
    """
    return _removed(ref, get_service().purge_variants)


def _removed(ref: str, remove: Callable[[str], None]) -> Response:
    """No Content, once ``remove`` has removed what it removes of ``ref``.

    :raises ImageNotFound: ``ref`` is not a reference, or ``remove`` finds nothing.
    """
    check_reference(ref)
    remove(ref)
    return Response(status=204)


@bp.route("/storage/<ref>/info", methods=["GET"])
@readers_only
def info(ref: str) -> Response:
    """What is known about a stored image, as JSON.

    :raises ImageNotFound: nothing is stored under ``ref``.
    :raises RateLimited: the client has made as many reads as it may.
    """
    ratelimits.count("reads")
    check_reference(ref)
    checked_query(f"/storage/{ref}/info", conversion=False)
    service = get_service()
    record = service.info(ref)
    response = jsonify(
        format=record.format,
        mime=service.original_format(record).mime,
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
        blurhash=record.blurhash or None,
        colour=record.colour or None,
        placeholder=f"/storage/{ref}/placeholder",
        **({"source_url": record.source_url} if record.source_url else {}),
        **({"focus": list(record.focus)} if record.focus else {}),
        **({"eager": ready} if (ready := service.eager_ready(ref, record)) else {}),
    )
    if service.settings.private_reads:
        response.headers["Cache-Control"] = PRIVATE
    return response


@bp.route("/storage/<ref>/placeholder", methods=["GET"])
@readers_only
def placeholder(ref: str) -> Response:
    """A tiny blurred PNG of the image (its BlurHash decoded), to show while it loads.

    :raises ImageNotFound: nothing is stored under ``ref``.
    :raises ServiceError: what ``ImageService.placeholder`` raises.
    """
    check_reference(ref)
    checked_query(f"/storage/{ref}/placeholder", conversion=False)
    data, record = get_service().placeholder(ref)
    etag = f"{record.sha256[:32]}-placeholder"
    respond = functools.partial(_file, io.BytesIO(data), "image/png", len(data))
    return _sandboxed(_send(respond, etag, record))


@bp.route("/storage/<name>/srcset", methods=["GET"])
@readers_only
def srcset(name: str) -> Response:
    """A ready ``srcset`` (with ``sizes`` and a fallback ``src``) of ``<ref>[.<ext>]``
    for ``?widths=`` or a ``?preset=``, with any other options, as JSON. When
    signed reads are on, the request must be signed (it mints signed URLs).

    :raises ImageNotFound: nothing is stored under ``ref``.
    :raises UnknownFormat: the extension names no format we write.
    :raises InvalidOptions: what ``srcsets.candidates`` raises.
    :raises ServiceError: what ``signing.checked_query`` raises.
    """
    ref, dot, extension = name.partition(".")
    check_reference(ref)
    query = checked_query(f"/storage/{name}/srcset", True, preset_exempt=False)
    service = get_service()
    record = service.info(ref)
    if dot and extension != "auto":
        service.formats.for_extension(extension)
    path = f"/storage/{name}"
    found = srcsets.candidates(
        query, service.settings, record.upright_width, path, expires()
    )
    urls = [f"{request.url_root.rstrip('/')}{path}?{item.query}" for item in found]
    widest = found[-1].width
    response = jsonify(
        srcset=", ".join(f"{url} {item.width}w" for url, item in zip(urls, found)),
        sizes=f"(max-width: {widest}px) 100vw, {widest}px",
        src=urls[-1],
        widths=[item.width for item in found],
    )
    if service.settings.private_reads:
        response.headers["Cache-Control"] = PRIVATE
    return response


def _send(respond: Callable[[], Response], etag: str, record: ImageRecord) -> Response:
    """Answer 412 or 304 without touching the file when a precondition says so; else
    the file's response, with validators, caching headers and a byte range.

    :raises PreconditionFailed: If-Match or If-Unmodified-Since does not hold.
    :raises RequestedRangeNotSatisfiable: the range starts past the end.
    """
    plain = is_plain(request.environ)
    if plain:
        response = respond()
    else:
        created = parsed_date(record.created)
        check_preconditions(request, etag, created)
        current = is_current(request, etag, created)
        response = Response(status=304) if current else respond()
    # Added, not set: a new answer has none of them, and ``set`` looks through
    # every header for one to replace (several times per request in all).
    headers = response.headers
    headers.add("ETag", quote_etag(etag))
    headers.add("Last-Modified", http_last_modified(record.created))
    # As a string: the cache_control accessors re-parse the header on every write.
    headers.add("Cache-Control",
                PRIVATE if get_service().settings.private_reads else IMMUTABLE)
    if response.status_code != 200 or "X-Accel-Redirect" in headers:
        return response
    headers.add("Accept-Ranges", "bytes")
    if plain:
        return response
    try:
        return apply_range(response, request, etag, parsed_date(record.created))
    except RequestedRangeNotSatisfiable:
        response.close()
        raise


def _original(ref: str, record: ImageRecord) -> Response:
    """The original, or behind nginx (PROGIMAGE_ACCEL_REDIRECT) a pointer to it.

    The size comes from the record: a stream from S3 cannot be measured, and
    without it there would be no Content-Length and no ranges.
    """
    service = get_service()
    mime = service.original_format(record).mime
    prefix = service.settings.accel_redirect
    internal = service.internal_path(ref) if prefix else None
    span = _wanted_span(record)
    if internal is None and span is not None:
        # Read just the range: S3 would otherwise send the whole object.
        start, stop = span
        response = _file(service.storage.open(ref, span), mime, stop - start)
        response.status_code = 206
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{record.size}"
        response.headers["Accept-Ranges"] = "bytes"
        return response
    if internal is None:
        return _file(service.storage.open(ref), mime, record.size)
    response = Response(mimetype=mime)
    response.headers["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{internal}"
    return response


def _wanted_span(record: ImageRecord) -> tuple[int, int] | None:
    """The one satisfiable byte range the request asks of the original, if it is
    to be answered (no If-Range, or one naming this image); None otherwise, and
    the answer is left to ``_send``."""
    if "HTTP_RANGE" not in request.environ:
        return None
    wanted = request.range
    if wanted is None:
        return None
    if "If-Range" in request.headers:
        if_range = request.if_range
        created = parsed_date(record.created)
        if if_range.etag != record.sha256 and if_range.date != created:
            return None
    return wanted.range_for_length(record.size)


def _variant(found: Download) -> Response:
    """The converted image: from the variant cache, or converted now (with
    ``max_bytes``, ``X-Quality`` names the quality chosen). Never handed to nginx:
    nginx caches variants itself (deploy/nginx.conf)."""
    file, quality = get_service().variant(
        found, starting=functools.partial(ratelimits.count, "conversions")
    )
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    response = _file(file, found.target.mime, size)
    if quality is not None:
        response.headers["X-Quality"] = str(quality)
    return response


def _file(file: BinaryIO, mime: str, size: int) -> Response:
    """A file of ``size`` bytes, sent by the server's file wrapper (sendfile under
    gunicorn for a local file)."""
    # What send_file does for an open file, without its name, date and cache
    # handling (_send sets those): a tenth of a GET original's Python otherwise.
    return Response(
        wrap_file(request.environ, file), mimetype=mime, direct_passthrough=True,
        headers=[("Content-Length", str(size))],
    )
