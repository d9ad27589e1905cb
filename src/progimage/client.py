"""A Python client for a ProgImage server: upload, download, inspect, delete.

>>> from progimage.client import Client
>>> with Client("http://127.0.0.1:5000") as images:
...     ref = images.put("photo.heic")
...     thumbnail = images.get(ref, "webp", w=256)
"""

import io
import os
import uuid
from collections.abc import Callable, Iterator
from typing import BinaryIO
from urllib.parse import quote

import requests

#: Called as bytes move with (bytes so far, total bytes or None when unknown).
Progress = Callable[[int, int | None], None]
#: Bytes moved per read or write: small enough for a smooth progress bar.
CHUNK_SIZE = 64 * 1024
TIMEOUT = 60


class ProgImageError(Exception):
    """The server refused a request; ``detail`` is its explanation."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"


class Client:
    """Talks to the ProgImage server at ``url`` (e.g. ``http://127.0.0.1:5000``)."""

    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()

    def put(self, file: str | os.PathLike[str] | BinaryIO,
            progress: Progress | None = None) -> str:
        """Upload an image (a path or a binary file) and return its reference.

        :raises ProgImageError: the server refused it (not an image, too large...).
        :raises OSError: the file cannot be read.
        """
        if isinstance(file, (str, os.PathLike)):
            with open(file, "rb") as opened:
                return self.put(opened, progress)
        body = MultipartBody(file, os.path.basename(getattr(file, "name", "image")),
                             progress)
        response = self.session.post(
            f"{self.url}/storage/", data=body, timeout=TIMEOUT,
            headers={"Content-Type": body.content_type, "Accept": "text/plain"},
        )
        with response:
            _check(response)
            return response.text.strip()

    def get(self, ref: str, extension: str = "", **operations: object) -> bytes:
        """The original image, or with ``extension`` converted to that format.

        ``operations`` become query parameters (``w=256, fit="cover"``).

        :raises ProgImageError: unknown reference, format or operation.
        """
        buffer = io.BytesIO()
        self.download(buffer, ref, extension, **operations)
        return buffer.getvalue()

    def download(self, target: BinaryIO, ref: str, extension: str = "",
                 progress: Progress | None = None, **operations: object) -> str:
        """Stream the image into ``target``; return its MIME type.

        :raises ProgImageError: unknown reference, format or operation.
        """
        name = f"{ref}.{extension}" if extension else ref
        response = self.session.get(self._image_url(name), params=operations,
                                    stream=True, timeout=TIMEOUT)
        with response:
            _check(response)
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
            done = 0
            for chunk in response.iter_content(CHUNK_SIZE):
                target.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
            return response.headers.get("Content-Type", "")

    def info(self, ref: str) -> dict[str, object]:
        """What the server knows about the image: format, size, digest...

        :raises ProgImageError: nothing is stored under ``ref``.
        """
        with self.session.get(self._image_url(ref) + "/info",
                              timeout=TIMEOUT) as response:
            _check(response)
            return response.json()

    def delete(self, ref: str) -> None:
        """Remove the image and everything derived from it.

        :raises ProgImageError: nothing is stored under ``ref``.
        """
        with self.session.delete(self._image_url(ref), timeout=TIMEOUT) as response:
            _check(response)

    def _image_url(self, name: str) -> str:
        return f"{self.url}/storage/{quote(name, safe='')}"


class MultipartBody(io.RawIOBase):
    """A ``multipart/form-data`` body with one file field ``data``, read lazily.

    requests sends it in chunks and knows its length, so large files are neither
    held in memory nor sent without ``Content-Length``.
    """

    def __init__(self, file: BinaryIO, filename: str,
                 progress: Progress | None = None) -> None:
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; "
            f"filename=\"{quoted}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        start = file.tell()
        self.length = len(head) + file.seek(0, io.SEEK_END) - start + len(tail)
        file.seek(start)
        self._parts: Iterator[bytes] = _chain(head, file, tail)
        self._progress = progress
        self._sent = 0

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        """The next chunk of the body (``size`` is a hint), ``b""`` at the end."""
        chunk = next(self._parts, b"")
        self._sent += len(chunk)
        if self._progress and chunk:
            self._progress(self._sent, self.length)
        return chunk


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


__all__ = ["Client", "MultipartBody", "ProgImageError"]
