"""Against a real gunicorn: one conversion per variant under concurrency, flat upload
memory, and originals sent without reading them into Python."""

import io
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image
from servers import gunicorn, memory_kib

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def _noise(fmt: str, size: tuple[int, int], **params) -> bytes:
    """An incompressible image: encoders and decoders get real work."""
    width, height = size
    image = Image.frombytes("RGB", size, os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _store(url: str, data: bytes) -> str:
    response = requests.put(f"{url}/storage/", files={"data": ("image", data)}, timeout=60)
    assert response.status_code == 200, response.text
    return response.text


def _fetch_together(url: str, count: int) -> list[requests.Response]:
    """``count`` GETs of one URL, released at the same moment."""
    start = threading.Barrier(count)

    def fetch(_: int) -> requests.Response:
        start.wait()
        return requests.get(url, timeout=120)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(fetch, range(count)))


@pytest.mark.parametrize("options, workers", [
    (("--worker-class", "sync", "--threads", "1"), 2),
    (("--worker-class", "gthread", "--threads", "4"), 1),
    (("--worker-class", "gthread", "--threads", "4"), 2),
], ids=["2 processes", "4 threads", "2 processes x 4 threads"])
def test_concurrent_first_requests_convert_once(tmp_path, options, workers):
    """Eight simultaneous first requests for one variant: one conversion, one body."""
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data")}
    with gunicorn(tmp_path, env, *options, workers=workers) as server:
        ref = _store(server.url, _noise("PNG", (1200, 900)))
        responses = _fetch_together(f"{server.url}/storage/{ref}.webp", 8)
        assert [r.status_code for r in responses] == [200] * 8
        assert len({r.content for r in responses}) == 1
    # Read the log once the server has stopped, so that every line is in.
    served_by = {
        re.search(r"pid=<(\d+)>", line).group(1)
        for line in server.logged(rf"access pid=<\d+> GET /storage/{ref}\.webp")
    }
    assert len(served_by) == workers
    assert len(server.logged(f"converted {ref} to WEBP")) == 1


@pytest.mark.parametrize("fmt, size, params", [
    ("PNG", (3700, 3700), {"compress_level": 0}),
    ("JPEG", (3700, 2800), {"quality": 100, "subsampling": 0}),
], ids=["png", "jpeg"])
def test_40_mb_upload_grows_worker_memory_by_under_10_mb(tmp_path, fmt, size, params):
    """The upload streams to disk and its check decodes little: peak RSS stays flat."""
    data = _noise(fmt, size, **params)
    assert len(data) >= 40_000_000
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data")}
    with gunicorn(tmp_path, env, workers=1) as server:
        _store(server.url, _noise(fmt, (64, 64)))  # warm: imports, first allocations
        [worker] = server.workers()
        before = memory_kib(worker, "VmHWM")
        ref = _store(server.url, data)
        grown = memory_kib(worker, "VmHWM") - before
        with requests.get(f"{server.url}/storage/{ref}", timeout=60) as response:
            assert response.content == data
    assert grown < 10 * 1024, f"peak RSS grew by {grown} KiB"


def test_original_download_does_not_grow_worker_memory(tmp_path):
    """A 40 MB original is sent by the kernel (sendfile), not copied through Python."""
    data = _noise("PNG", (3700, 3700), compress_level=0)
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data")}
    with gunicorn(tmp_path, env, workers=1) as server:
        ref = _store(server.url, data)
        url = f"{server.url}/storage/{ref}"
        requests.get(url, timeout=60).close()
        [worker] = server.workers()
        before = memory_kib(worker, "VmHWM")
        bodies = [requests.get(url, timeout=60).content for _ in range(3)]
        grown = memory_kib(worker, "VmHWM") - before
    assert bodies == [data] * 3
    assert grown < 2 * 1024, f"peak RSS grew by {grown} KiB"
