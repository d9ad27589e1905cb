"""A real gunicorn serving ProgImage on a free loopback port, for integration tests."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """gunicorn with the project's config file, in its own process group."""

    def __init__(self, storage: Path, **environ: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.environ = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PROGIMAGE_STORAGE": str(storage),
            "WEB_CONCURRENCY": "2",
            **environ,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> "LiveServer":
        """Start gunicorn and wait until it answers."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config",
             str(ROOT / "deploy" / "gunicorn.conf.py"), "progimage:create_app()"],
            cwd=ROOT, env=self.environ, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/storage/x", timeout=1)
            except urllib.error.HTTPError:
                return self  # a 404: the app answers
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start within 30 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal the whole process group (master and workers) and reap it."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)
