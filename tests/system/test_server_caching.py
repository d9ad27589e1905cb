"""Against a real gunicorn: one conversion per variant under concurrency, flat upload
memory, and originals sent without reading them into Python."""

import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image
from live_servers import Gunicorn, deploy_site, memory_kib, nginx

pytestmark = pytest.mark.system

MIB = 1024 * 1024
# Servers started before eight simultaneous requests reach every worker.
SPREAD_TRIES = 5


def _noise(fmt: str, size: tuple[int, int], **params) -> bytes:
    """An incompressible image: encoders and decoders get real work."""
    width, height = size
    image = Image.frombytes("RGB", size, os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _store(url: str, data: bytes) -> str:
    files = {"data": ("image", data)}
    response = requests.put(f"{url}/storage/", files=files, timeout=60)
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
    """Eight simultaneous first requests for one variant: one conversion, one body.

    The kernel may hand all eight connections to one worker (whichever wakes
    first): then the run is repeated with a new server, up to SPREAD_TRIES times,
    until the requests reached every worker, each run converting once."""
    for attempt in range(SPREAD_TRIES):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        env = {"PROGIMAGE_STORAGE": str(folder / "data")}
        with Gunicorn(folder, env, *options, workers=workers) as server:
            ref = _store(server.url, _noise("PNG", (1200, 900)))
            responses = _fetch_together(f"{server.url}/storage/{ref}.webp", 8)
            assert [r.status_code for r in responses] == [200] * 8
            assert len({r.content for r in responses}) == 1
        # Read the log once the server has stopped, so that every line is in.
        assert len(server.logged(f"converted {ref} to WEBP")) == 1
        served = server.served_by(rf"GET /storage/{ref}\.webp")
        if len(served) == workers:
            break
    assert len(served) == workers


@pytest.mark.parametrize("fmt, size, params", [
    ("PNG", (3700, 3700), {"compress_level": 0}),
    ("JPEG", (3700, 2800), {"quality": 100, "subsampling": 0}),
], ids=["png", "jpeg"])
def test_40_mb_upload_grows_worker_memory_by_under_10_mb(tmp_path, fmt, size, params):
    """The upload streams to disk and its check decodes little: peak RSS stays flat."""
    data = _noise(fmt, size, **params)
    assert len(data) >= 40_000_000
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data")}
    with Gunicorn(tmp_path, env, workers=1) as server:
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
    with Gunicorn(tmp_path, env, workers=1) as server:
        ref = _store(server.url, data)
        url = f"{server.url}/storage/{ref}"
        requests.get(url, timeout=60).close()
        [worker] = server.workers()
        before = memory_kib(worker, "VmHWM")
        bodies = [requests.get(url, timeout=60).content for _ in range(3)]
        grown = memory_kib(worker, "VmHWM") - before
    assert bodies == [data] * 3
    assert grown < 2 * 1024, f"peak RSS grew by {grown} KiB"


@pytest.fixture(name="behind_nginx")
def _behind_nginx(tmp_path):
    """gunicorn with PROGIMAGE_ACCEL_REDIRECT behind nginx with deploy/nginx.conf."""
    storage = tmp_path / "data"
    env = {
        "PROGIMAGE_STORAGE": str(storage), "PROGIMAGE_ACCEL_REDIRECT": "/_progimage",
    }
    with Gunicorn(tmp_path, env, workers=1) as server:
        upstream = server.url.removeprefix("http://")
        site = deploy_site(upstream, storage, tmp_path / "nginx-cache")
        with nginx(tmp_path / "nginx", site) as url:
            yield url, server


def test_nginx_sends_originals_handed_over_by_x_accel_redirect(behind_nginx):
    """The app answers headers only; nginx sends the original's bytes from disk."""
    url, server = behind_nginx
    data = _noise("PNG", (300, 200))
    ref = _store(url, data)
    response = requests.get(f"{url}/storage/{ref}", timeout=30)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Content-Type"] == "image/png"
    assert "immutable" in response.headers["Cache-Control"]
    ranged = requests.get(f"{url}/storage/{ref}", headers={"Range": "bytes=0-7"})
    assert (ranged.status_code, ranged.content) == (206, data[:8])


def test_nginx_refuses_an_upload_over_the_limit_with_a_problem(behind_nginx):
    """Above 50 MiB nginx answers the 413 itself, as a problem document."""
    url, _ = behind_nginx
    body = io.BytesIO(b"\0" * (50 * MIB + 1024))
    response = requests.put(f"{url}/storage/", files={"data": body}, timeout=60)
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 413


def test_originals_from_nginx_are_sandboxed(behind_nginx):
    """The headers that keep a browser from running a stored file survive the
    hand-over to nginx."""
    url, server = behind_nginx
    ref = _store(url, _noise("GIF", (30, 20)))
    response = requests.get(f"{url}/storage/{ref}", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/gif"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_direct_request_answers_x_accel_redirect_header(behind_nginx):
    """Without nginx in between, the response is only the internal pointer."""
    url, server = behind_nginx
    ref = _store(url, _noise("PNG", (30, 20)))
    response = requests.get(f"{server.url}/storage/{ref}", timeout=30)
    assert response.content == b""
    assert response.headers["X-Accel-Redirect"] == (
        f"/_progimage/{ref[:2]}/{ref[2:4]}/{ref}/original"
    )


def test_nginx_caches_variants_and_converts_once(behind_nginx):
    """Repeat requests for a variant are nginx cache hits; the app converted once and
    sends variants itself: an X-Accel-Redirect answer would never fill that cache."""
    url, server = behind_nginx
    ref = _store(url, _noise("PNG", (300, 200)))
    variant = f"{url}/storage/{ref}.webp"
    responses = [requests.get(variant, timeout=30) for _ in range(3)]
    assert [r.headers["X-Cache-Status"] for r in responses] == ["MISS", "HIT", "HIT"]
    assert len({r.content for r in responses}) == 1
    assert Image.open(io.BytesIO(responses[0].content)).format == "WEBP"
    direct = requests.get(f"{server.url}/storage/{ref}.webp", timeout=30)
    assert "X-Accel-Redirect" not in direct.headers
    assert direct.content == responses[0].content
    assert len(server.logged(f"converted {ref} to WEBP")) == 1


def test_nginx_keeps_one_auto_entry_per_negotiated_format(behind_nginx):
    """<ref>.auto for three browsers: each gets its format. Then three others whose
    Accept headers differ but name the same formats get the same answers from
    nginx's cache; the app converted each format once."""
    url, server = behind_nginx
    ref = _store(url, _noise("PNG", (300, 200)))
    first = {
        "image/avif,image/webp,image/apng,*/*;q=0.8": "image/avif",
        "image/webp,*/*;q=0.8": "image/webp",
        "*/*": "image/jpeg",
    }
    alike = {
        "image/avif,image/webp,*/*": "image/avif",
        "image/avif;q=0, image/webp, image/png, */*;q=0.5": "image/webp",
        "image/png,image/*;q=0.8": "image/jpeg",
    }
    for browsers, status in ((first, "MISS"), (alike, "HIT")):
        for accept, mime in browsers.items():
            response = requests.get(
                f"{url}/storage/{ref}.auto?w=100", headers={"Accept": accept},
                timeout=30,
            )
            assert response.status_code == 200
            assert response.headers["Content-Type"] == mime, accept
            assert response.headers["Vary"] == "Accept"
            image = Image.open(io.BytesIO(response.content))
            assert image.get_format_mimetype() == mime
            assert response.headers["X-Cache-Status"] == status, accept
    for fmt in ("AVIF", "WEBP", "JPEG"):
        assert len(server.logged(f"converted {ref} to {fmt}")) == 1


KEY = {"Authorization": "Bearer k3y"}


@pytest.fixture(name="private_behind_nginx", scope="module",
                params=["X-Accel-Redirect", "proxied"])
def _private_behind_nginx(request, tmp_path_factory):
    """gunicorn with private reads (key ``k3y``) behind deploy/nginx.conf, with
    originals handed over by X-Accel-Redirect or proxied (and then cacheable)."""
    tmp_path = tmp_path_factory.mktemp("private")
    storage = tmp_path / "data"
    env = {
        "PROGIMAGE_STORAGE": str(storage), "PROGIMAGE_API_KEYS": "k3y",
        "PROGIMAGE_PRIVATE_READS": "1",
        "PROGIMAGE_ACCEL_REDIRECT": "/_progimage" if request.param != "proxied" else "",
    }
    with Gunicorn(tmp_path, env, workers=1) as server:
        upstream = server.url.removeprefix("http://")
        site = deploy_site(upstream, storage, tmp_path / "nginx-cache")
        with nginx(tmp_path / "nginx", site) as url:
            yield url


@pytest.mark.parametrize("path", ["/storage/{ref}", "/storage/{ref}.webp",
                                  "/storage/{ref}/info"])
def test_keyed_reads_never_answer_keyless_ones_through_nginx(private_behind_nginx,
                                                             path):
    """With private reads behind the shipped nginx: a keyed read, then the same URL
    without a key answers 401 (not the cached image); after the DELETE the keyed
    read answers 404."""
    url = private_behind_nginx
    data = _noise("PNG", (30, 20))
    stored = requests.put(f"{url}/storage/", files={"data": ("a.png", data)},
                          headers=KEY, timeout=30)
    ref = stored.text
    address = url + path.format(ref=ref)
    keyed = [requests.get(address, headers=KEY, timeout=30) for _ in range(2)]
    assert [r.status_code for r in keyed] == [200, 200]
    assert keyed[0].content == keyed[1].content
    assert keyed[0].headers["Cache-Control"] == "private, no-cache"
    assert [r.headers["X-Cache-Status"] for r in keyed] == ["BYPASS", "BYPASS"]
    keyless = requests.get(address, timeout=30)
    assert keyless.status_code == 401
    assert keyless.headers["Content-Type"] == "application/problem+json"
    deleted = requests.delete(f"{url}/storage/{ref}", headers=KEY, timeout=30)
    assert deleted.status_code == 204
    assert requests.get(address, headers=KEY, timeout=30).status_code == 404


def test_deleted_image_leaves_the_nginx_cache_when_its_entry_expires(tmp_path):
    """Public reads: nginx has no purge, so a DELETE shows once the cached entry
    expires (10 minutes as shipped, 1 s here) and nginx asks the app again."""
    storage = tmp_path / "data"
    with Gunicorn(tmp_path, {"PROGIMAGE_STORAGE": str(storage)}, workers=1) as server:
        upstream = server.url.removeprefix("http://")
        site = deploy_site(upstream, storage, tmp_path / "nginx-cache")
        assert "proxy_cache_valid 200 206 10m;" in site
        site = site.replace("proxy_cache_valid 200 206 10m;",
                            "proxy_cache_valid 200 206 1s;")
        with nginx(tmp_path / "nginx", site) as url:
            ref = _store(url, _noise("PNG", (30, 20)))
            variant = f"{url}/storage/{ref}.webp"
            statuses = [requests.get(variant, timeout=30).headers["X-Cache-Status"]
                        for _ in range(2)]
            assert statuses == ["MISS", "HIT"]
            deleted = requests.delete(f"{url}/storage/{ref}", timeout=30)
            assert deleted.status_code == 204
            deadline = time.monotonic() + 10
            while (answer := requests.get(variant, timeout=30)).status_code == 200:
                assert answer.headers["X-Cache-Status"] == "HIT"
                assert time.monotonic() < deadline, "still cached after 10 s"
                time.sleep(0.1)
            assert answer.status_code == 404
