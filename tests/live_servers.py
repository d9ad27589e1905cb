"""Real servers for integration tests and the benchmark: gunicorn with the shipped
settings, nginx with a given site and moto's S3, each on a free loopback port."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from system_programs import require

ROOT = Path(__file__).resolve().parents[1]
PROGIMAGE = "progimage:create_app()"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
# How the app logs a request, as text and as JSON, with the pid of the worker that
# served it.
ACCESS_LINES = (
    r"\[(\d+)\] INFO progimage\.access: {request} ",
    r'"logger": "progimage\.access", "pid": (\d+), "message": "{request} ',
)


class Gunicorn:
    """``app`` under gunicorn with deploy/gunicorn.conf.py, on a port the OS chose.

    It runs in a process group of its own, so that a test can kill -9 the whole
    server, and logs to a file in ``folder`` (a pipe would need a reader, which
    costs CPU under the benchmark). Use it as a context manager, or call
    ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        folder: Path,
        env: dict[str, str] | None = None,
        *options: str,
        workers: int = 2,
        app: str = PROGIMAGE,
    ) -> None:
        self.folder = folder
        self.log = folder / f"gunicorn-{time.monotonic_ns()}.log"
        # Without PROMETHEUS_MULTIPROC_DIR, deploy/gunicorn.conf.py makes a metrics
        # folder for this server alone: a shared one would add up several servers.
        inherited = {k: v for k, v in os.environ.items()
                     if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.env = {**inherited, **(env or {})}
        self.command = [
            sys.executable, "-m", "gunicorn",
            "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind", "127.0.0.1:0", "--workers", str(workers),
            *options, app,
        ]
        self.expected_workers = workers
        self.logs_requests = app == PROGIMAGE
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.url = ""

    def start(self) -> "Gunicorn":
        """Start gunicorn; return once every worker has booted and answered.

        :raises RuntimeError: it exited, or was not ready within a minute.
        """
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=self.folder, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        """Poll ``_ready()`` for a minute; fail with the log if gunicorn exits."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.output()}")
            if self._ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start:\n{self.output()}")

    def _ready(self) -> bool:
        """Whether every worker has booted and answered ``/readyz``: each has then
        loaded the app, so that a test's requests are not all taken by the one
        worker that happened to be ready first. Apps other than ProgImage log no
        requests: give them ``--preload``, so that a booted worker has the app."""
        output = self.output()
        listening = LISTENING.search(output)
        if not listening or output.count("Booting worker") < self.expected_workers:
            return False
        self.port = int(listening.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        # A worker still importing under load may take a while: ask again.
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            _probe(f"{self.url}/readyz", 2 * self.expected_workers)
            if not self.logs_requests:
                return True
            return len(self.served_by("GET /readyz 200")) >= self.expected_workers
        return False

    def stop(self) -> None:
        """Stop as a deployment does (SIGTERM: requests in flight finish); kill -9
        whatever is left after 30 s."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.terminate()
            self.process.wait(30)
        self.kill()

    def kill(self) -> None:
        """kill -9 the master and every worker at once, as a power cut would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def output(self) -> str:
        """Everything gunicorn and the app logged so far."""
        return self.log.read_text(errors="replace")

    def logged(self, pattern: str) -> list[str]:
        """The logged lines that match the regular expression ``pattern``."""
        return [line for line in self.output().splitlines()
                if re.search(pattern, line)]

    def served_by(self, request: str) -> set[str]:
        """The pids of the workers that logged ``request`` (a regular expression
        such as ``GET /storage/x``), in the text or the JSON log format."""
        patterns = [re.compile(line.format(request=request)) for line in ACCESS_LINES]
        return {
            match.group(1) for line in self.output().splitlines()
            for pattern in patterns if (match := pattern.search(line))
        }

    def workers(self) -> list[int]:
        """The pids of the live workers."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(child) for child in children.read_text().split()]

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _probe(url: str, count: int) -> None:
    """``count`` simultaneous requests, so that idle workers get some of them."""
    with ThreadPoolExecutor(count) as pool:
        for response in pool.map(lambda _: requests.get(url, timeout=10), range(count)):
            response.close()


def memory_kib(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` memory figure (VmRSS, VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


# The frame that Debian's /etc/nginx/nginx.conf gives a site, with every path in the
# server's folder; as root, workers stay root to write there.
MAIN_CONF = """
daemon off;
{user}
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
# How the sites in deploy/ listen; nginx() moves them to a free loopback port.
DEPLOYED_LISTEN = "listen 8080;"
# The other parts of deploy/nginx.conf that name a machine.
SITE_PLACEHOLDERS = ("127.0.0.1:5000", "/var/lib/progimage/data/",
                     "/var/cache/nginx/progimage")


@contextlib.contextmanager
def nginx(folder: Path, site: str) -> Iterator[str]:
    """Run nginx in the foreground with ``site`` (server blocks that listen on
    port 8080, as deployed) on a free loopback port instead; yield its URL."""
    assert DEPLOYED_LISTEN in site, "the site must listen on 8080"
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    site = site.replace(DEPLOYED_LISTEN, f"listen 127.0.0.1:{port};")
    (folder / "site.conf").write_text(site)
    user = "user root root;" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(MAIN_CONF.format(folder=folder, user=user))
    binary = require("nginx")
    process = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(folder / "nginx.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(process, port, folder / "error.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def scaleout_site(ports: list[int]) -> str:
    """deploy/nginx-scaleout.conf in front of the instances on two loopback ports."""
    site = (ROOT / "deploy" / "nginx-scaleout.conf").read_text()
    for default, actual in zip(("8001", "8002"), ports, strict=True):
        site = site.replace(f"127.0.0.1:{default}", f"127.0.0.1:{actual}")
    return site


def deploy_site(upstream: str, storage: Path, cache: Path) -> str:
    """deploy/nginx.conf with this machine's upstream (host:port) and folders."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    values = (upstream, f"{storage}/", str(cache))
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


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """Run Debian's redis-server on a free loopback port, keeping nothing on disk;
    yield its redis:// URL."""
    port = free_port()
    log = folder / f"redis-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [require("redis-server"), "--bind", "127.0.0.1", "--port", str(port),
             "--save", "", "--appendonly", "no", "--dir", str(folder)],
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(process, port, log)
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop(process)


CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# moto's S3 in a process of its own, printing the port it got.
MOTO = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's S3 server; yield its URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )
    try:
        yield f"http://127.0.0.1:{int(process.stdout.readline())}"
    finally:
        process.stdin.close()
        stop(process)
        process.stdout.close()
