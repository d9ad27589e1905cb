"""`make bench-upload-cpu`: the CPU one raw upload costs, in the web worker and in
its converter process, beside the bare Flask app's raw upload with a Pillow verify.

Both apps are called through the Flask test client in this process, one upload at
a time (bench/run.py's 1155x866 photo, 386 KiB): no sockets or gunicorn, and CPU
time rather than wall time, so the figures hold on a busy machine. The converter's
CPU is read from /proc (its user + system ticks over the whole round). The fsyncs'
disk wait is not CPU and does not count. ``BENCH_PROFILE=1`` prints the top of a
cProfile of the worker's side.
"""

import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bare_app
from progimage.config import Settings
from per_request import quiet_access_log
from progimage.web import create_app
from run import photo

UPLOADS = int(os.environ.get("BENCH_CALLS", "300"))
# The best of a few rounds: the least disturbed by whatever else runs.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def per_upload(upload: Callable[[], None], converters: Callable[[], list[int]]
               ) -> tuple[float, float]:
    """CPU µs per upload in this process and in the converters: the best round
    (by their sum) of ``ROUNDS`` rounds of ``UPLOADS`` uploads, after a warm-up."""
    for _ in range(UPLOADS // 10):
        upload()
    best = (float("inf"), 0.0)
    for _ in range(ROUNDS):
        pids = converters()
        before = time.process_time(), sum(map(process_cpu, pids))
        for _ in range(UPLOADS):
            upload()
        here = (time.process_time() - before[0]) / UPLOADS * 1e6
        there = (sum(map(process_cpu, pids)) - before[1]) / UPLOADS * 1e6
        best = min(best, (here, there), key=sum)
    return best


def main() -> None:
    """Time raw uploads of the photo to ProgImage and to the bare app."""
    data = photo(1155, 866)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(storage=str(Path(folder) / "data")))
        quiet_access_log()
        service = app.extensions["progimage"]
        client = app.test_client()
        original = Path(folder) / "original.jpg"
        original.write_bytes(data)
        os.environ["BENCH_FILE"] = str(original)
        bare = bare_app.create_app().test_client()

        def progimage_upload() -> None:
            answer = client.put("/storage/", data=data, content_type="image/jpeg")
            assert answer.status_code == 200, answer.status

        def bare_upload() -> None:
            answer = bare.put("/upload", data=data, content_type="image/jpeg")
            assert answer.status_code == 200, answer.status

        try:
            ours = per_upload(progimage_upload, service.converters.processes)
            floor = per_upload(bare_upload, list)
            if os.environ.get("BENCH_PROFILE"):
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(UPLOADS):
                    progimage_upload()
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats(
                    "tottime").print_stats(30)
        finally:
            service.close()
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {UPLOADS} uploads x {ROUNDS} "
          "rounds, raw body (Content-Type: image/jpeg), 1155x866 JPEG of "
          f"{len(data) // 1024} KiB\n")
    print("| app | worker µs | converter µs | total µs | bare / this |")
    print("|---|---:|---:|---:|---:|")
    for name, (here, there) in (("bare Flask + verify", floor),
                                ("ProgImage", ours)):
        total = here + there
        print(f"| {name} | {here:.0f} | {there:.0f} | {total:.0f} | "
              f"{sum(floor) / total:.2f} |")


if __name__ == "__main__":
    main()
