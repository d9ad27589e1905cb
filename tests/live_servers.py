"""Real servers for integration tests and the benchmark: gunicorn with the shipped
settings and nginx with the shipped site, each on a free loopback port."""

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
# The app's INFO lines (e.g. "converted <ref> to WEBP", one access line per request,
# each with the worker's pid) go to stderr beside gunicorn's own.
LOG_CONFIG = {
    "loggers": {
        name: {"level": "INFO", "handlers": ["error_console"], "propagate": False}
        for name in ("gunicorn.error", "progimage")
    }
}
# How the app logs a request, with the pid of the worker that served it.
ACCESS_LINE = r"\[(\d+)\] INFO progimage\.access: {request} "


@dataclass
class Server:
    """A running gunicorn: its URL, its master process and every line it logged."""

    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    url: str = ""

    def workers(self) -> list[int]:
        """The worker process ids."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def logged(self, pattern: str) -> list[str]:
        """The logged lines that match ``pattern``."""
        return [line for line in self.lines if re.search(pattern, line)]

    def served_by(self, request: str) -> set[str]:
        """The pids of the workers that logged ``request`` (a regular expression
        such as ``GET /storage/x``)."""
        pattern = ACCESS_LINE.format(request=request)
        return {re.search(pattern, line).group(1) for line in self.logged(pattern)}


def memory_kib(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` memory figure (VmRSS, VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


@contextlib.contextmanager
def gunicorn(
    tmp_path: Path,
    env: dict[str, str],
    *options: str,
    workers: int = 2,
    app: str = "progimage:create_app()",
) -> Iterator[Server]:
    """Run ``app`` under gunicorn with deploy/gunicorn.conf.py; yield it once every
    worker has booted and answered a request (ProgImage logs each one with the
    worker's pid; give another app ``--preload``, so that a booted worker has it)."""
    log_config = tmp_path / "logging.json"
    log_config.write_text(json.dumps(LOG_CONFIG))
    command = [
        sys.executable, "-m", "gunicorn",
        "--config", str(ROOT / "deploy/gunicorn.conf.py"),
        "--bind", "127.0.0.1:0", "--workers", str(workers),
        "--log-config-json", str(log_config),
        "--no-control-socket",
        *options, app,
    ]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    server = Server(process)
    reader = threading.Thread(target=_collect, args=(process, server.lines))
    reader.start()
    try:
        _wait_until_ready(server, workers, app.startswith("progimage:"))
        yield server
    finally:
        stop(process)
        reader.join()
        process.stdout.close()


def _collect(process: subprocess.Popen, lines: list[str]) -> None:
    for line in process.stdout:
        lines.append(line.rstrip("\n"))


def _wait_until_ready(server: Server, workers: int, logs_requests: bool) -> None:
    """Wait until ``workers`` workers have booted and, when the app logs requests,
    answered one each."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + "\n".join(server.lines))
        ports = [LISTENING.search(line) for line in server.lines]
        ports = [match.group(1) for match in ports if match]
        if ports and len(server.logged("Booting worker")) >= workers:
            server.url = f"http://127.0.0.1:{ports[0]}"
            with contextlib.suppress(requests.ConnectionError):
                _probe(f"{server.url}/storage/x", 2 * workers)
                if not logs_requests or len(_answering(server)) >= workers:
                    return
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not start:\n" + "\n".join(server.lines))


def _probe(url: str, count: int) -> None:
    """``count`` simultaneous requests, so that idle workers get some of them."""
    with ThreadPoolExecutor(count) as pool:
        for response in pool.map(lambda _: requests.get(url, timeout=10), range(count)):
            response.close()


def _answering(server: Server) -> set[str]:
    """The workers that have answered a probe: each has loaded the app, so a test's
    requests are not all taken by the one worker that happened to be ready first."""
    return server.served_by("GET /storage/x")


# The parts of deploy/nginx.conf that name this machine, and what replaces them.
SITE_PLACEHOLDERS = ("listen 8080;", "127.0.0.1:5000", "/var/lib/progimage/data/",
                     "/var/cache/nginx/progimage")
MAIN_CONF = """
daemon off;
user root root;
worker_processes 2;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""


def deploy_site(port: int, upstream: str, storage: Path, cache: Path) -> str:
    """deploy/nginx.conf with this machine's port, upstream and folders."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    values = (f"listen 127.0.0.1:{port};", upstream, f"{storage}/", str(cache))
    for placeholder, value in zip(SITE_PLACEHOLDERS, values, strict=True):
        assert placeholder in site, placeholder
        site = site.replace(placeholder, value)
    return site


def stop(process: subprocess.Popen) -> None:
    """Ask a server to finish, then make sure it did."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A loopback port that was free a moment ago (for servers that cannot bind 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def nginx(folder: Path, site: str) -> Iterator[None]:
    """Run nginx in the foreground with ``site`` (http-level configuration)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "site.conf").write_text(site)
    (folder / "nginx.conf").write_text(MAIN_CONF.format(folder=folder))
    process = subprocess.Popen(
        ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port = int(re.search(r"listen 127\.0\.0\.1:(\d+)", site).group(1))
        wait_for_port(process, port, folder / "error.log")
        yield
    finally:
        stop(process)


def wait_for_port(process: subprocess.Popen, port: int, log: Path) -> None:
    """Wait until ``process`` accepts connections on the loopback ``port``; fail with
    its ``log`` if it exits first."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited:\n" + log.read_text())
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{process.args[0]} did not start")
