"""Real servers on loopback for the scale-out tests: S3 (moto), gunicorn, nginx.

Every server binds a port the OS chose: gunicorn gets an already bound socket
(``--bind fd://N``), moto reports the port it got. Only nginx needs a port picked in
advance, because it cannot report one.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
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


@dataclass
class Instance:
    """A running gunicorn serving ProgImage."""

    url: str
    port: int
    log: Path
    process: subprocess.Popen

    def log_text(self) -> str:
        """Everything the instance wrote to stdout and stderr so far."""
        return self.log.read_text()

    def stop(self) -> None:
        """Shut the instance down, as a crash or a deployment would."""
        _stop(self.process)


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
        _stop(process)
        process.stdout.close()


@contextlib.contextmanager
def gunicorn(folder: Path, env: dict[str, str]) -> Iterator[Instance]:
    """Run gunicorn with deploy/gunicorn.conf.py in ``folder``; yield it once ready."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    log = folder / "output.log"
    environment = {**os.environ, **CREDENTIALS, **env}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [
        sys.executable, "-m", "gunicorn", "--config", str(DEPLOY / "gunicorn.conf.py"),
        "--bind", f"fd://{listener.fileno()}", "progimage:create_app()",
        # One control socket per instance: the default is one per user.
        "--control-socket", str(folder / "gunicorn.ctl"),
    ]
    with listener, open(log, "wb") as output:
        process = subprocess.Popen(
            command, env=environment, cwd=folder, stdout=output, stderr=output,
            pass_fds=[listener.fileno()],
        )
    try:
        instance = Instance(f"http://127.0.0.1:{port}", port, log, process)
        _wait_until_ready(f"{instance.url}/readyz", process, log)
        yield instance
    finally:
        _stop(process)


@contextlib.contextmanager
def nginx(folder: Path, upstreams: list[int]) -> Iterator[str]:
    """Run Debian's nginx with deploy/nginx-scaleout.conf in front of two ports."""
    port = _free_port()
    site = (DEPLOY / "nginx-scaleout.conf").read_text()
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    for default, actual in zip(("8001", "8002"), upstreams, strict=True):
        site = site.replace(f"127.0.0.1:{default}", f"127.0.0.1:{actual}")
    (folder / "progimage.conf").write_text(site)
    # The frame that Debian's /etc/nginx/nginx.conf gives a conf.d file, with every
    # path in the test's folder; as root, workers stay root to write there.
    (folder / "nginx.conf").write_text(f"""
pid {folder}/nginx.pid;
error_log {folder}/error.log;
{"user root;" if os.geteuid() == 0 else ""}
events {{}}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/progimage.conf;
}}
""")
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(folder / "nginx.conf"),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_ready(f"{url}/healthz", process, folder / "error.log")
        yield url
    finally:
        _stop(process)


def _wait_until_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it died."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited: {_tail(log)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=5).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"not ready in time: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text()[-3000:] if log.exists() else "(no log)"


def _stop(process: subprocess.Popen) -> None:
    """Ask a server to finish, then make sure it did."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _free_port() -> int:
    """A loopback port free right now (for nginx, which cannot report its own)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
