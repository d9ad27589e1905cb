"""``POST /storage/bulk``: many reads in one answer, a ZIP streamed as it is made.

Each entry is read as ``GET /storage/<ref>[.<ext>]?<options>`` would be (signature,
presets, the request's client hints for ``w=auto``, allowed sizes, the variant
cache), one at a time, and written to the archive as soon as it is ready, so the
answer never holds more than one image. An entry that fails is listed in
``manifest.json``, the last member, instead of failing the rest.
"""

import functools
import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from flask import Blueprint, Response, request, stream_with_context

from ..exceptions import InvalidOptions, ServiceError
from ..references import check_reference
from . import get_service, ratelimits
from .api import requested_options
from .auth import readers_only
from .errors import STATUS_BY_ERROR

bp = Blueprint("bulk", __name__)

MANIFEST = "manifest.json"
ENTRY_KEYS = frozenset({"ref", "ext", "options"})
CHUNK = 256 * 1024
# Room for one entry in the body: a reference, an extension and options.
ENTRY_BYTES = 2048


@dataclass(frozen=True)
class Entry:
    """One read of the request: ``<ref>[.<ext>]?<query>``."""

    ref: str
    extension: str
    query: dict[str, list[str]]

    @property
    def path(self) -> str:
        return f"/storage/{self.ref}" + (f".{self.extension}" if self.extension else "")


@bp.route("/storage/bulk", methods=["POST"])
@readers_only
def bulk() -> Response:
    """A ZIP of the reads the JSON body lists: ``[{"ref", "ext", "options"}, ...]``,
    or ``{"refs": [...], "ext": ..., "options": {...}}`` for one option set.

    :raises InvalidOptions: the body is not such a list, or lists more entries than
        PROGIMAGE_BULK_MAX_ENTRIES.
    :raises RequestEntityTooLarge: the body is longer than that many entries need.
    """
    # Parsed in this thread: no longer than the entries allowed can be (not the
    # upload limit, 50 MiB of JSON would take far more memory parsed).
    request.max_content_length = ENTRY_BYTES * get_service().settings.bulk_max_entries
    entries = _entries(request.get_json(silent=True))
    response = Response(
        stream_with_context(_archive(entries)), mimetype="application/zip"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="progimage.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _entries(body: object) -> list[Entry]:
    """:raises InvalidOptions: see ``bulk``."""
    if (isinstance(body, dict) and isinstance(body.get("refs"), list)
            and set(body) <= {"refs", "ext", "options"}):
        shared = {key: body[key] for key in ("ext", "options") if key in body}
        body = [{"ref": ref, **shared} for ref in body["refs"]]
    if not isinstance(body, list) or not body:
        raise InvalidOptions(
            'the body must be a JSON list of {"ref", "ext", "options"} entries, or '
            '{"refs": [...], "ext": ..., "options": {...}}'
        )
    limit = get_service().settings.bulk_max_entries
    if len(body) > limit:
        raise InvalidOptions(
            f"{len(body):,} entries: at most {limit:,} in one request "
            "(PROGIMAGE_BULK_MAX_ENTRIES)"
        )
    return [_entry(number, item) for number, item in enumerate(body, 1)]


def _entry(number: int, item: object) -> Entry:
    """:raises InvalidOptions: ``item`` is not an entry."""
    ref, extension, options = (
        (item.get("ref"), item.get("ext", ""), item.get("options", {}))
        if isinstance(item, dict) and set(item) <= ENTRY_KEYS else (None, None, None)
    )
    if not (isinstance(ref, str) and isinstance(extension, str)
            and isinstance(options, dict)):
        raise InvalidOptions(
            f'entry {number} must be {{"ref": "<reference>", "ext": "<extension>", '
            '"options": {...}}, with "ext" and "options" optional'
        )
    try:
        query = {str(name): [_text(value)] for name, value in options.items()}
    except TypeError:
        raise InvalidOptions(
            f"entry {number}: each option must be a string, a number, true or false, "
            "or a list of those"
        ) from None
    return Entry(ref, extension.lower(), query)


def _text(value: object, nested: bool = False) -> str:
    """A JSON value as a query parameter would spell it.

    :raises TypeError: an object, null, or a list within a list.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list) and not nested:
        return ",".join(_text(part, nested=True) for part in value)
    if not isinstance(value, str | int | float):
        raise TypeError(value)
    return str(value)


def _archive(entries: list[Entry]) -> Iterator[bytes]:
    """The ZIP's bytes, a member at a time; within the byte and time budgets."""
    settings = get_service().settings
    deadline = time.monotonic() + settings.convert_timeout
    sink = _Sink()
    manifest: list[dict[str, object]] = []
    names: set[str] = set()
    written = 0
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for entry in entries:
            report: dict[str, object] = {"ref": entry.ref, "path": entry.path}
            manifest.append(report)
            if time.monotonic() > deadline:
                report.update(status=503, detail=(
                    f"not read: the request ran past its {settings.convert_timeout:g} "
                    "s budget; ask again for the rest (what was converted is cached)"))
                continue
            try:
                file, extension, size = _read(entry)
            except ServiceError as error:
                report.update(status=STATUS_BY_ERROR.get(type(error), 400),
                              detail=error.detail)
                continue
            with file:
                if written + size > settings.bulk_max_bytes:
                    report.update(status=413, detail=(
                        f"not added: the archive would pass {settings.bulk_max_bytes:,}"
                        " bytes (PROGIMAGE_BULK_MAX_BYTES)"))
                    continue
                name = _unique(f"{entry.ref}.{extension}", names)
                _add(archive, name, file)
            written += size
            report.update(status=200, name=name, bytes=size)
            yield sink.take()
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1) + "\n")
    yield sink.take()


def _read(entry: Entry) -> tuple[BinaryIO, str, int]:
    """The entry's bytes (a variant through the cache, or the original), the
    extension it is sent as, and its size.

    :raises ServiceError: what a GET of the entry's path would answer (a rate
        limit included: each entry counts as a read, and as a conversion if it
        converts).
    """
    ratelimits.count("reads")
    check_reference(entry.ref)
    service = get_service()
    # w=auto takes the request's client hints, held to the original's width as a
    # GET's would be.
    options = requested_options(
        entry.path, bool(entry.extension), entry.query,
        widest=lambda: service.info(entry.ref).upright_width,
    )
    found = service.resolve(
        entry.ref, entry.extension or None, options, request.accept_mimetypes
    )
    if found.target is None:
        extension = service.original_format(found.record).extension
        return service.storage.open(entry.ref), extension, found.record.size
    file, _ = service.variant(
        found, starting=functools.partial(ratelimits.count, "conversions")
    )
    if not file.seekable():  # a variant streamed from the shared bucket
        with file:
            file = io.BytesIO(file.read())
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    # Named as asked (.jpeg stays .jpeg); .auto as the format chosen.
    negotiated = found.negotiated
    return file, found.target.extension if negotiated else entry.extension, size


def _add(archive: zipfile.ZipFile, name: str, file: BinaryIO) -> None:
    """Copy ``file`` into the archive as ``name``, a chunk at a time."""
    with archive.open(name, "w") as member:
        while chunk := file.read(CHUNK):
            member.write(chunk)


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``<stem>-2.<ext>``... when an earlier entry has it."""
    stem, dot, extension = name.partition(".")
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{stem}-{number}{dot}{extension}"
    taken.add(candidate)
    return candidate


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are taken as they come: zipfile
    then writes data descriptors instead of seeking back."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # noqa: ANN001 - any bytes-like object
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        """What was written since the last call."""
        data = b"".join(self._parts)
        self._parts.clear()
        return data
