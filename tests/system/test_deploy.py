"""The shipped deploy/ settings against real servers: instances that share a host,
and slow clients in front of nginx."""

import contextlib
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from live_servers import Gunicorn, deploy_site, nginx

from helpers import make_image
from system_programs import require

pytestmark = pytest.mark.system


def _sockets(folder: Path) -> set[Path]:
    """The Unix sockets anywhere under ``folder``."""
    return {path for path in folder.rglob("*") if stat.S_ISSOCK(path.lstat().st_mode)}


def _answers(path: Path) -> bool:
    """Whether a server listens on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX) as client:
        return client.connect_ex(str(path)) == 0


def _host(tmp_path: Path) -> dict[str, str]:
    """The environment of a host whose home and runtime folders are under tmp_path:
    gunicorn's default control socket would land there."""
    (tmp_path / "home").mkdir()
    (tmp_path / "run").mkdir()
    return {"PROGIMAGE_STORAGE": str(tmp_path / "data"),
            "HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}


def test_stopping_one_instance_leaves_the_others_control_socket(tmp_path):
    """Two instances on one host with the shipped settings: stopping the second
    leaves the first one's control socket, if it has one, where it was and listening."""
    env = _host(tmp_path)
    with Gunicorn(tmp_path, env, workers=1):
        firsts = _sockets(tmp_path)
        with Gunicorn(tmp_path, env, workers=1):
            pass
        assert all(_answers(path) for path in firsts), firsts


def test_a_control_socket_is_per_instance_when_asked_for(tmp_path):
    """GUNICORN_CONTROL_SOCKET gives an instance a socket of its own, which the other
    instance neither takes nor removes."""
    env = _host(tmp_path)
    first, second = tmp_path / "first.ctl", tmp_path / "second.ctl"
    with Gunicorn(tmp_path, {**env, "GUNICORN_CONTROL_SOCKET": str(first)}, workers=1):
        with Gunicorn(
            tmp_path, {**env, "GUNICORN_CONTROL_SOCKET": str(second)}, workers=1
        ):
            assert _answers(second)
        assert _answers(first)
        assert not second.exists()


# Slow clients: half trickle their headers, half their upload's body, one line or
# byte every TRICKLE seconds, for at most SLOW_FOR seconds.
SLOW_SOCKETS = 200
TRICKLE = 1.0
SLOW_FOR = 8.0
SLOW_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: progimage\r\n"
SLOW_BODY = (b"PUT /storage/ HTTP/1.1\r\nHost: progimage\r\n"
             b"Content-Type: multipart/form-data; boundary=x\r\n"
             b"Content-Length: 100000\r\n\r\n")


@contextlib.contextmanager
def _slow_clients(url: str) -> Iterator[None]:
    """SLOW_SOCKETS connections to ``url`` that send slowly, from a background
    thread, until the block ends (or SLOW_FOR seconds pass); open once it yields."""
    host, port = url.removeprefix("http://").split(":")
    stop, opened = threading.Event(), threading.Event()

    def trickle() -> None:
        with contextlib.ExitStack() as sockets:
            clients = []
            for number in range(SLOW_SOCKETS):
                client = sockets.enter_context(socket.create_connection((host, port)))
                client.sendall(SLOW_HEADERS if number % 2 else SLOW_BODY)
                clients.append(client)
            opened.set()
            deadline = time.monotonic() + SLOW_FOR
            while not stop.wait(TRICKLE) and time.monotonic() < deadline:
                for number, client in enumerate(clients):
                    with contextlib.suppress(OSError):
                        client.sendall(b"X-Slow: 1\r\n" if number % 2 else b"-")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        assert opened.wait(SLOW_FOR), "the slow clients did not connect"
        yield
    finally:
        stop.set()
        thread.join(SLOW_FOR + TRICKLE)


def _seconds_for(url: str) -> float:
    """How long a GET of ``url`` takes to answer 200 (at most 5 s: then it fails)."""
    started = time.monotonic()
    response = requests.get(url, timeout=5)
    assert response.status_code == 200, (url, response.status_code)
    return time.monotonic() - started


@pytest.mark.serial
def test_nginx_in_front_keeps_probes_fast_with_200_slow_clients(tmp_path):
    """deploy/nginx.conf in front of gunicorn: while 200 clients trickle headers or
    upload bodies, /healthz and an original answer through nginx in under 1 s."""
    require("nginx")
    storage = tmp_path / "data"
    with Gunicorn(tmp_path, {"PROGIMAGE_STORAGE": str(storage)}, workers=1) as server:
        ref = requests.put(
            f"{server.url}/storage/", files={"data": make_image()}, timeout=30
        ).text
        site = deploy_site(server.url.removeprefix("http://"), storage,
                           tmp_path / "nginx-cache")
        with nginx(tmp_path / "nginx", site) as url, _slow_clients(url):
            # Probed over a few trickles: slow requests would reach gunicorn by
            # then if nginx let them through.
            timings, until = [], time.monotonic() + 3 * TRICKLE
            while time.monotonic() < until:
                timings += [_seconds_for(f"{url}/healthz"),
                            _seconds_for(f"{url}/storage/{ref}")]
    assert max(timings) < 1, timings
