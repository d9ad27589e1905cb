"""`make bench-per-request`: the Python each GET costs, in microseconds, in process.

ProgImage's app and the bare Flask app (bare_app.py) are called straight through
WSGI, a few thousand times each, in one process and one thread: no sockets, no
gunicorn, no load-dependent scheduling, so the numbers are steady even on a busy
machine. The server's file wrapper is stood in for by one that sends nothing (as
sendfile under gunicorn costs no Python), and the access log goes to /dev/null
through the app's own formatter, so that formatting it is measured.

``BENCH_PROFILE=1`` prints the top of a cProfile of each ProgImage path too.
"""

import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from flask import Flask
from werkzeug.test import EnvironBuilder

import bare_app
from progimage.config import Settings
from progimage.web import create_app
from run import photo

CALLS = int(os.environ.get("BENCH_CALLS", "3000"))
# The best of a few rounds: the least disturbed by whatever else runs.
ROUNDS = 5


class SentFile:
    """A stand-in for gunicorn's file wrapper: the file is sent by the kernel
    (sendfile), so no Python reads it; it is closed as the server closes it."""

    def __init__(self, file: io.IOBase, block_size: int = 8192) -> None:
        self.file = file

    def __iter__(self) -> Iterable[bytes]:
        return iter(())

    def close(self) -> None:
        """Close the file, as the server does once it is sent."""
        self.file.close()


def caller(app: Flask, path: str) -> Callable[[], None]:
    """A function answering one GET of ``path`` through ``app``'s WSGI interface."""
    environ = EnvironBuilder(path=path, headers={"Accept": "*/*"}).get_environ()
    environ["wsgi.file_wrapper"] = SentFile

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        if not status.startswith(("200", "206")):
            raise AssertionError(f"GET {path} answered {status}")

    def call() -> None:
        body = app.wsgi_app(dict(environ), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    return call


def microseconds(call: Callable[[], None]) -> float:
    """CPU µs per call: the best of ``ROUNDS`` rounds of ``CALLS`` calls, after a
    warm-up round. CPU time, not wall time: other processes on a loaded machine
    delay a call but do not add to it."""
    for _ in range(CALLS // 10):
        call()
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(CALLS):
            call()
        best = min(best, (time.process_time() - started) / CALLS)
    return best * 1e6


def profile(name: str, call: Callable[[], None]) -> None:
    """Print the 25 costliest functions (own time) of ``CALLS`` calls."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(CALLS):
        call()
    profiler.disable()
    print(f"\n### cProfile: {name}, {CALLS} calls", file=sys.stderr)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)


def quiet_access_log() -> None:
    """Keep the log handler's formatting, write to /dev/null instead of stderr."""
    for handler in logging.getLogger("progimage").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (process-long)


def main() -> None:
    """Store the 1 MP photo, warm its WebP variant, and time each path."""
    data = photo(1200, 800)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(storage=str(Path(folder) / "data"))
        app = create_app(settings)
        quiet_access_log()
        client = app.test_client()
        ref = client.put("/storage/", data=data,
                         content_type="image/jpeg").get_data(as_text=True)
        variant = f"/storage/{ref}.webp?w=256"
        assert client.get(variant).status_code == 200  # converted and cached now
        original = Path(folder) / "original.jpg"
        original.write_bytes(data)
        os.environ["BENCH_FILE"] = str(original)
        bare = bare_app.create_app()
        paths = {
            "bare Flask: send_file": caller(bare, "/file"),
            "GET original": caller(app, f"/storage/{ref}"),
            "GET cached variant (WebP, w=256)": caller(app, variant),
        }
        try:
            rows = {name: microseconds(call) for name, call in paths.items()}
            if os.environ.get("BENCH_PROFILE"):
                for name, call in list(paths.items())[1:]:
                    profile(name, call)
        finally:
            app.extensions["progimage"].close()
    floor = rows["bare Flask: send_file"]
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {CALLS} calls x {ROUNDS} rounds\n")
    print("| path | µs per request | bare / this |\n|---|---:|---:|")
    for name, value in rows.items():
        print(f"| {name} | {value:.0f} | {floor / value:.2f} |")


if __name__ == "__main__":
    main()
