"""Real servers for integration tests: gunicorn with the shipped settings, on a free
loopback port that it picks itself."""

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
# The app's INFO lines (e.g. "converted <ref> to WEBP") go to stderr beside gunicorn's.
LOG_CONFIG = {
    "loggers": {
        name: {"level": "INFO", "handlers": [handler], "propagate": False}
        for name, handler in (
            ("gunicorn.error", "error_console"),
            ("gunicorn.access", "console"),
            ("progimage", "error_console"),
        )
    }
}


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


def memory_kib(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` memory figure (VmRSS, VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


@contextlib.contextmanager
def gunicorn(
    tmp_path: Path, env: dict[str, str], *options: str, workers: int = 2
) -> Iterator[Server]:
    """Run ``progimage:create_app()`` under gunicorn with deploy/gunicorn.conf.py."""
    log_config = tmp_path / "logging.json"
    log_config.write_text(json.dumps(LOG_CONFIG))
    command = [
        sys.executable, "-m", "gunicorn", "--config", str(ROOT / "deploy/gunicorn.conf.py"),
        "--bind", "127.0.0.1:0", "--workers", str(workers),
        "--log-config-json", str(log_config),
        "--access-logformat", "access pid=%(p)s %(r)s %(s)s", "--no-control-socket",
        *options, "progimage:create_app()",
    ]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    server = Server(process)
    reader = threading.Thread(target=_collect, args=(process, server.lines))
    reader.start()
    try:
        _wait_until_ready(server, workers)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join()
        process.stdout.close()


def _collect(process: subprocess.Popen, lines: list[str]) -> None:
    for line in process.stdout:
        lines.append(line.rstrip("\n"))


def _wait_until_ready(server: Server, workers: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + "\n".join(server.lines))
        ports = [LISTENING.search(line) for line in server.lines]
        ports = [match.group(1) for match in ports if match]
        if ports and len(server.logged("Booting worker")) >= workers:
            server.url = f"http://127.0.0.1:{ports[0]}"
            with contextlib.suppress(requests.ConnectionError):
                requests.get(f"{server.url}/storage/x", timeout=10).close()
                if len(server.workers()) >= workers:
                    return
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not start:\n" + "\n".join(server.lines))
