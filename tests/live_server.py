"""A real gunicorn serving ProgImage on a free loopback port, for integration tests."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


class LiveServer:
    """gunicorn in its own process group, so that the whole server can be killed."""

    def __init__(self, tmp_path: Path, workers: int = 2, **settings: str) -> None:
        self.log = tmp_path / f"gunicorn-{time.monotonic_ns()}.log"
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": "0",  # the OS picks a free port; gunicorn logs which
            "WEB_CONCURRENCY": str(workers),
            **{f"PROGIMAGE_{key.upper()}": value for key, value in settings.items()},
        }
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> "LiveServer":
        """Start gunicorn and wait until every worker has booted."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--no-control-socket", "--config",
                 str(ROOT / "deploy" / "gunicorn.conf.py"), "progimage:create_app()"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{self._wait_for_port()}"
        return self

    def kill(self) -> None:
        """kill -9 the master and every worker at once, as a power cut would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Stop gracefully (SIGTERM to the group), or kill after 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        """Everything gunicorn logged so far."""
        return self.log.read_text(errors="replace")

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = LISTENING.search(self.output())
            booted = self.output().count("Booting worker")
            if found and booted >= int(self.env["WEB_CONCURRENCY"]):
                return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gunicorn did not start:\n{self.output()}")

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
