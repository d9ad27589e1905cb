"""Faults: kill -9 of the whole server under load loses no acknowledged upload, and
a graceful stop finishes the requests in flight."""

import hashlib
import io
import json
import re
import signal
import socket
import threading
from pathlib import Path

import pytest
import requests
from PIL import Image

from helpers import wait_until
from live_servers import Gunicorn
from progimage.storage.filesystem import FilesystemStorage

CLIENTS = 8


def noise_png(seed: int) -> bytes:
    """A small PNG that differs for every seed."""
    image = Image.effect_noise((48, 48), 40 + seed % 50).convert("RGB")
    image.putpixel((0, 0), (seed % 256, seed // 256 % 256, 7))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def keep_uploading(url: str, client: int, stop: threading.Event, stored: dict) -> None:
    """Upload distinct images until told to stop or the server is gone."""
    with requests.Session() as session:
        for count in range(10_000):
            if stop.is_set():
                return
            data = noise_png(client * 10_000 + count)
            try:
                response = session.put(
                    f"{url}/storage/", files={"data": data}, timeout=10
                )
            except requests.RequestException:
                return  # killed mid-request: this upload was never acknowledged
            if response.status_code == 200:
                stored[response.text] = data


@pytest.mark.system
def test_kill_9_under_load_loses_no_acknowledged_upload(tmp_path):
    """Every upload answered 200 before kill -9 is served byte-exact after restart."""
    storage = tmp_path / "data"
    stored: dict[str, bytes] = {}
    stop = threading.Event()
    server = Gunicorn(tmp_path, {"PROGIMAGE_STORAGE": str(storage)}).start()
    clients = [
        threading.Thread(target=keep_uploading, args=(server.url, n, stop, stored))
        for n in range(CLIENTS)
    ]
    for thread in clients:
        thread.start()
    try:
        wait_until(lambda: len(stored) >= 60, "60 acknowledged uploads", 30)
    finally:
        server.kill()
        stop.set()
    for thread in clients:
        thread.join()
    # What a writer killed mid-way leaves behind: a staging folder of a dead process.
    abandoned = storage / ".incoming" / f"{server.process.pid}.deadbeef"
    abandoned.mkdir(exist_ok=True)
    (abandoned / "original").write_bytes(b"\x89PNG partial")

    with Gunicorn(tmp_path, {"PROGIMAGE_STORAGE": str(storage)}) as restarted:
        assert len(stored) >= 60
        for ref, data in stored.items():
            with requests.get(f"{restarted.url}/storage/{ref}", timeout=10) as got:
                assert (got.status_code, got.content) == (200, data), ref
        assert list((storage / ".incoming").iterdir()) == []


def test_no_published_image_is_partial(tmp_path):
    """After the crash test's kind of run, every published folder is whole.

    Checked directly on disk: each image folder has its record, and the original's
    size and SHA-256 match the record, so no partial file can ever be served.
    """
    storage = tmp_path / "data"
    stop = threading.Event()
    stored: dict[str, bytes] = {}
    with Gunicorn(tmp_path, {"PROGIMAGE_STORAGE": str(storage)}) as server:
        thread = threading.Thread(
            target=keep_uploading, args=(server.url, 0, stop, stored)
        )
        thread.start()
        wait_until(lambda: len(stored) >= 5, "five acknowledged uploads", 60)
        server.kill()
        stop.set()
        thread.join()
    folders = [path for path in storage.glob("??/??/*") if path.is_dir()]
    assert len(folders) >= len(stored) >= 5
    for folder in folders:
        record = json.loads((folder / "record.json").read_bytes())
        original = (folder / "original").read_bytes()
        assert len(original) == record["size"]
        assert hashlib.sha256(original).hexdigest() == record["sha256"]


@pytest.mark.system
def test_sigterm_finishes_the_upload_in_flight(tmp_path):
    """A deployment's SIGTERM lets a request that is halfway through its body
    finish: the client gets its reference, the image is stored whole, and gunicorn
    exits cleanly once it is answered."""
    original = noise_png(7)
    head, body = multipart_upload(original)
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data")}
    server = Gunicorn(tmp_path, env, workers=1).start()
    try:
        [worker] = server.workers()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
            client.sendall(head + body[: len(body) // 2])
            connection = (server.port, client.getsockname()[1])
            wait_until(lambda: unread_by_server(*connection) == 0
                       and process_state(worker) == "S",
                       "the worker blocked reading the rest of the body")
            woken = wakeups(worker)
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: "Handling signal: term" in server.output(),
                       "gunicorn's SIGTERM log line")
            # Nothing else wakes a worker blocked on a silent client: a wake-up
            # is the master's SIGTERM reaching it, while the request is in flight.
            wait_until(lambda: wakeups(worker) > woken, "the SIGTERM at the worker")
            client.sendall(body[len(body) // 2:])
            status, answer = read_response(client)
        assert server.process.wait(30) == 0
    finally:
        server.stop()
    assert status == 200
    with FilesystemStorage(tmp_path / "data").open(answer.decode()) as stored:
        assert stored.read() == original


def unread_by_server(port: int, peer_port: int) -> int | None:
    """Bytes the server end of the loopback connection ``port`` <- ``peer_port``
    has received and nobody has read yet (None: no such connection)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        if (local, remote) == (port, peer_port):
            return int(fields[4].split(":")[1], 16)
    return None


def process_state(pid: int) -> str:
    """The one-letter state of ``pid`` (S: sleeping on something, R: running)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def wakeups(pid: int) -> int:
    """How many times ``pid`` has gone back to sleep after something woke it."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1))


def multipart_upload(data: bytes) -> tuple[bytes, bytes]:
    """The head and the body of ``PUT /storage/`` with ``data`` as field ``data``."""
    boundary = "progimage-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; "
        f"filename=\"image.png\"\r\nContent-Type: image/png\r\n\r\n".encode()
        + data + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"PUT /storage/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


def read_response(client: socket.socket) -> tuple[int, bytes]:
    """The status and body of the HTTP/1.1 response on ``client`` (read to EOF)."""
    chunks = []
    while chunk := client.recv(65536):
        chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), body
