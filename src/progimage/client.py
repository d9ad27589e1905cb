"""A Python client for a ProgImage server: upload, download, convert, inspect, delete.

>>> from progimage.client import Client
>>> with Client("http://127.0.0.1:5000") as images:
...     ref = images.put("photo.heic")
...     thumbnail = images.get(ref, "webp", w=256)
"""

import io
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, cast
from urllib.parse import parse_qsl, quote, urlencode

import requests

from .signing import signed_query

#: Called as bytes move with (bytes so far, total bytes or None when unknown).
Progress = Callable[[int, int | None], None]
#: Bytes moved per read or write: small enough for a smooth progress bar.
CHUNK_SIZE = 64 * 1024
TIMEOUT = 60
# Characters that would end the multipart head's Content-Disposition line early, or
# its quoted filename: percent-encoded, as browsers do for CR, LF and '"' (WHATWG
# HTML, "multipart/form-data"); a backslash too, which would escape the closing quote.
HEAD_BREAKERS = re.compile(r'[\x00-\x1f\x7f"\\]')


class ProgImageError(Exception):
    """The server refused a request; ``detail`` is its explanation."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"


class BearerKey(requests.auth.AuthBase):
    """Sends ``Authorization: Bearer <key>``. requests drops the header when a
    redirect leads to another host, port or scheme (``Session.should_strip_auth``),
    and never adds it again: the key reaches only the server it was given for."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.key}"
        return request


class Client:
    """Talks to the ProgImage server at ``url`` (e.g. ``http://127.0.0.1:5000``),
    with the API key ``api_key`` when the server needs one, and signing image URLs
    with ``signing_key`` (the first of PROGIMAGE_SIGNING_KEYS) when given."""

    def __init__(self, url: str, session: requests.Session | None = None,
                 api_key: str | None = None, signing_key: str | None = None) -> None:
        self.base_url = url.rstrip("/")
        self.signing_key = signing_key
        self.session = session or requests.Session()
        self._auth = BearerKey(api_key) if api_key else None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()

    def put(self, file: str | os.PathLike[str] | BinaryIO | bytes,
            progress: Progress | None = None, eager: Iterable[str] = ()) -> str:
        """Upload an image (a path, a binary file or bytes); return its reference.
        ``eager`` names presets (``"thumb.webp"``, ``"hero"``) the server converts
        right after storing it.

        :raises ProgImageError: the server refused it (not an image, too large, an
            eager variant naming no preset...).
        :raises OSError: the file cannot be read.
        :raises requests.RequestException: the server cannot be reached.
        """
        if isinstance(file, (str, os.PathLike)):
            with open(file, "rb") as opened:
                return self.put(opened, progress, eager)
        if isinstance(file, (bytes, bytearray, memoryview)):
            return self.put(io.BytesIO(file), progress, eager)
        body = MultipartBody(file, os.path.basename(getattr(file, "name", "image")),
                             progress)
        with self._send("POST", "", data=body, params=_eager(eager), headers={
            "Content-Type": body.content_type, "Accept": "text/plain",
        }) as response:
            return response.text.strip()

    def put_url(self, url: str, eager: Iterable[str] = ()) -> str:
        """Have the server fetch the image at ``url`` (http or https) and store it;
        return its reference. ``eager`` is as for ``put``.

        :raises ProgImageError: the URL is refused (a private address...), the
            remote side failed or was too slow, or it sent no image.
        :raises requests.RequestException: the server cannot be reached.
        """
        with self._send("POST", "", json={"url": url}, params=_eager(eager),
                        headers={"Accept": "text/plain"}) as response:
            return response.text.strip()

    def process(self, file: str | os.PathLike[str] | BinaryIO | bytes,
                extension: str, accept: str = "", **operations: object) -> bytes:
        """The image ``file`` (a path, a binary file or bytes) converted to
        ``extension`` after ``operations`` by the server, which keeps nothing
        (``POST /process.<ext>``); signed if the client has a signing key.

        :raises ProgImageError: the server refused the image, the format or an
            operation, or (``auto``) no format it offers is acceptable.
        :raises OSError: the file cannot be read.
        """
        buffer = io.BytesIO()
        self.process_into(buffer, file, extension, accept=accept, **operations)
        return buffer.getvalue()

    def process_into(self, target: BinaryIO,
                     file: str | os.PathLike[str] | BinaryIO | bytes,
                     extension: str, progress: Progress | None = None,
                     accept: str = "", **operations: object) -> str:
        """Stream into ``target`` what ``process`` answers; return its MIME type.

        :raises ProgImageError: as ``process``.
        :raises OSError: the file cannot be read.
        """
        if isinstance(file, (str, os.PathLike)):
            with open(file, "rb") as opened:
                return self.process_into(target, opened, extension, progress,
                                         accept, **operations)
        path = f"/process.{quote(extension, safe='')}"
        params = parse_qsl(self._query_of(path, operations), keep_blank_values=True)
        # Sent as it is: the server reads the body whatever its type says.
        headers = {"Content-Type": "application/octet-stream",
                   **({"Accept": accept} if accept else {})}
        with self._request("POST", path, data=file, params=params, headers=headers,
                           stream=True) as response:
            _copy(response, target, progress)
            return response.headers.get("Content-Type", "")

    def get(self, ref: str, extension: str = "", **operations: object) -> bytes:
        """The original image, or with ``extension`` converted to that format.

        ``operations`` become query parameters (``w=256, fit="cover"``).

        :raises ProgImageError: unknown reference, format or operation.
        """
        buffer = io.BytesIO()
        self.download(buffer, ref, extension, **operations)
        return buffer.getvalue()

    def download(self, target: BinaryIO, ref: str, extension: str = "",
                 progress: Progress | None = None, accept: str = "",
                 **operations: object) -> str:
        """Stream the image into ``target``; return its MIME type. With the
        extension ``auto``, ``accept`` (an Accept header) chooses the format.

        :raises ProgImageError: unknown reference, format or operation, or (``auto``)
            no format the server offers is acceptable.
        """
        name = f"{ref}.{extension}" if extension else ref
        headers = {"Accept": accept} if accept else {}
        params = parse_qsl(self._query(name, operations), keep_blank_values=True)
        with self._send("GET", name, params=params, headers=headers,
                        stream=True) as response:
            _copy(response, target, progress)
            return response.headers.get("Content-Type", "")

    def bulk(self, target: BinaryIO, entries: list[dict[str, object]],
             progress: Progress | None = None) -> None:
        """Stream into ``target`` the ZIP of ``entries`` (``{"ref", "ext",
        "options"}`` each), read in one request; its ``manifest.json`` lists each
        entry's status. Signs each entry's options if the client has a key.

        :raises ProgImageError: the list is refused (bad entries, too many).
        """
        signed = [self._signed_entry(entry) for entry in entries]
        with self._send("POST", "bulk", json=signed, stream=True) as response:
            _copy(response, target, progress)

    def _signed_entry(self, entry: dict[str, object]) -> dict[str, object]:
        """A bulk entry with ``sig`` among its options when the client signs."""
        options = cast(dict[str, object], entry.get("options") or {})
        if not self.signing_key:
            return entry
        extension = entry.get("ext") or ""
        name = f"{entry['ref']}.{extension}" if extension else str(entry["ref"])
        query = dict(parse_qsl(self._query(name, options), keep_blank_values=True))
        return {**entry, "options": {**options, "sig": query["sig"]}}

    def url(self, ref: str, extension: str = "", expires: int | None = None,
            **operations: object) -> str:
        """The address of the image (converted to ``extension`` after
        ``operations``), signed with the signing key if the client has one, and
        then valid until the Unix time ``expires`` if given.

        :raises ValueError: ``expires`` is given without a signing key.
        """
        name = f"{ref}.{extension}" if extension else ref
        if expires is not None and not self.signing_key:
            raise ValueError("an expiry time needs a signing key")
        query = self._query(name, operations, expires)
        address = f"{self.base_url}/storage/{quote(name, safe='')}"
        return f"{address}?{query}" if query else address

    def _query(self, name: str, operations: dict[str, object],
               expires: int | None = None) -> str:
        """The query string for ``operations`` on ``name``, signed if we can."""
        return self._query_of(f"/storage/{name}", operations, expires)

    def _query_of(self, path: str, operations: dict[str, object],
                  expires: int | None = None) -> str:
        """The query string for ``operations`` on ``path``, signed if we can."""
        if self.signing_key:
            return signed_query(self.signing_key, path, operations, expires)
        return urlencode({option: 1 if value is True else value
                          for option, value in operations.items()})

    def info(self, ref: str) -> dict[str, object]:
        """What the server knows about the image: format, size, digest...

        :raises ProgImageError: nothing is stored under ``ref``.
        """
        with self._send("GET", ref, "/info") as response:
            return response.json()

    def srcset(self, ref: str, extension: str = "", widths: list[int] | None = None,
               **operations: object) -> dict[str, object]:
        """The server's ready ``srcset`` (and ``sizes``, ``src``, ``widths``) of the
        image converted to ``extension`` at each of ``widths`` (or a ``preset=``'s),
        after ``operations``; the request is signed if the client has a key.

        :raises ProgImageError: unknown reference, format, preset or operation.
        """
        name = f"{ref}.{extension}" if extension else ref
        if widths:
            operations = {**operations, "widths": ",".join(map(str, widths))}
        path = f"/storage/{name}/srcset"
        query = (signed_query(self.signing_key, path, operations)
                 if self.signing_key else urlencode(operations))
        params = parse_qsl(query, keep_blank_values=True)
        with self._send("GET", name, "/srcset", params=params) as response:
            return response.json()

    def placeholder(self, ref: str) -> bytes:
        """The image's placeholder: a tiny blurred PNG to show while it loads (its
        BlurHash and average colour are in ``info``).

        :raises ProgImageError: nothing is stored under ``ref``.
        """
        with self._send("GET", ref, "/placeholder") as response:
            return response.content

    def delete(self, ref: str) -> None:
        """Remove the image and everything derived from it.

        :raises ProgImageError: nothing is stored under ``ref``.
        """
        with self._send("DELETE", ref):
            pass

    def _send(self, method: str, name: str, suffix: str = "",
              **options: object) -> requests.Response:
        """The answer to ``method`` on ``/storage/<name><suffix>``, with the key.

        :raises ProgImageError: the answer is an error.
        """
        return self._request(method, f"/storage/{quote(name, safe='')}{suffix}",
                             **options)

    def _request(self, method: str, path: str, **options: object) -> requests.Response:
        """The answer to ``method`` on ``path`` of the server, with the key.

        :raises ProgImageError: the answer is an error.
        """
        response = self.session.request(method, self.base_url + path,
                                        auth=self._auth, timeout=TIMEOUT, **options)
        try:
            _check(response)
        except ProgImageError:
            response.close()
            raise
        return response


def _eager(specs: Iterable[str]) -> dict[str, str]:
    """The query of an upload asking for the eager variants ``specs`` (a list, or
    the comma-separated text the server takes)."""
    joined = specs if isinstance(specs, str) else ",".join(specs)
    return {"eager": joined} if joined else {}


def _copy(response: requests.Response, target: BinaryIO,
          progress: Progress | None) -> None:
    """Stream the body of ``response`` into ``target``, telling ``progress``."""
    length = response.headers.get("Content-Length")
    total = int(length) if length else None
    done = 0
    for chunk in response.iter_content(CHUNK_SIZE):
        target.write(chunk)
        done += len(chunk)
        if progress:
            progress(done, total)


class MultipartBody:
    """A ``multipart/form-data`` body with one file field ``data``, read lazily.

    Its length is known up front (``len``), so requests sends a ``Content-Length``
    (a server refuses an oversized upload before it is sent) while the file is read
    chunk by chunk (never held in memory). ``tell`` and ``seek(0)`` let requests
    send it again on a 307 or 308 redirect.
    """

    def __init__(self, file: BinaryIO, filename: str,
                 progress: Progress | None = None) -> None:
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self._head = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; "
            f"filename=\"{_quoted(filename)}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{boundary}--\r\n".encode()
        self._file = file
        self._start = file.tell()
        self.length = (len(self._head) + file.seek(0, io.SEEK_END) - self._start
                       + len(self._tail))
        self._progress = progress
        self.seek(0)

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read():
            yield chunk

    def read(self, size: int = -1) -> bytes:
        """The next chunk of the body (``size`` is a hint), ``b""`` at the end."""
        chunk = next(self._parts, b"")
        self._sent += len(chunk)
        if self._progress and chunk:
            self._progress(self._sent, self.length)
        return chunk

    def tell(self) -> int:
        """How much of the body has been read."""
        return self._sent

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Start again from the beginning, the only position it can go back to.

        :raises io.UnsupportedOperation: any other position.
        """
        if (offset, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("a multipart body only rewinds to 0")
        self._file.seek(self._start)
        self._parts: Iterator[bytes] = _chain(self._head, self._file, self._tail)
        self._sent = 0
        return 0


def _quoted(filename: str) -> str:
    """``filename`` safe inside the quoted ``filename=""`` of the multipart head."""
    return HEAD_BREAKERS.sub(lambda match: f"%{ord(match[0]):02X}", filename)


def _chain(head: bytes, file: BinaryIO, tail: bytes) -> Iterator[bytes]:
    yield head
    while chunk := file.read(CHUNK_SIZE):
        yield chunk
    yield tail


def _check(response: requests.Response) -> None:
    """:raises ProgImageError: the response is an error, with the server's detail."""
    if response.ok:
        return
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        detail = response.reason or "error"
    raise ProgImageError(response.status_code, str(detail))


__all__ = ["BearerKey", "Client", "MultipartBody", "ProgImageError"]
