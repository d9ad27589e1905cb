"""The per-request targets of `make bench`, measured side by side: ProgImage and the
bare Flask app (bare_app.py) run at once, each warmed up by a discarded run, then
wrk takes their reads in turns for ROUNDS rounds, then their uploads likewise, so
that a change in the machine's load falls on both; each row is the median of its
rounds.

Sequential runs minutes apart differed by up to 45% on this shared machine, more
than the gaps these targets measure. And wrk's 16 keep-alive connections are
accepted by whichever of the 2 gthread workers wakes first: a run with all 16 on one
worker measures one worker (718 req/s against 1,750 balanced, same server, seen with
``ss``). So each run's connections are counted per worker halfway through it, and a
run with more than LOPSIDED of them on one worker is run again, up to TRIES times,
for both apps alike; the report says how many were run again.
"""

import collections
import os
import re
import statistics
import subprocess
import threading
import time
from pathlib import Path

from live_servers import Gunicorn
from run import (
    BARE_STORE, ROOT, SIDE_BY_SIDE, WORKERS, Result, multipart, raw, upload, wrk,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SIDE_SECONDS", "5"))
# A run with more than this share of its connections on one worker is run again.
LOPSIDED = 0.75
TRIES = 3


def side_by_side_rows(folder: Path, storage: Path, photo: bytes) -> list[Result]:
    """GET original, GET cached WebP and raw and multipart uploads of ``photo`` on
    ProgImage (storing in ``storage``), and the bare app's send_file and verified
    uploads, in turns; one median row each, named with SIDE_BY_SIDE."""
    kept = folder / "bare-store"
    kept.mkdir(exist_ok=True)
    bare_env = {"BENCH_FILE": str(folder / "static" / "photo.jpg"),
                "BENCH_STORE": str(kept)}
    bare_path = ("--pythonpath", str(ROOT / "bench"), "--preload")
    ours_env = {"PROGIMAGE_STORAGE": str(storage)}
    with Gunicorn(folder, ours_env, workers=WORKERS) as ours, \
            Gunicorn(folder, bare_env, *bare_path, workers=WORKERS,
                     app="bare_app:create_app()") as bare:
        ref = upload(ours.url, photo)
        base = f"{ours.url}/storage/{ref}"
        reads = [
            ("GET original 1 MP", base, ours, None),
            ("warm variant (WebP, cached)", f"{base}.webp", ours, None),
            ("bare Flask send_file", f"{bare.url}/file", bare, None),
        ]
        # After the reads: the write-back of thousands of fsynced uploads slows
        # whatever runs next.
        uploads = [
            ("upload 1 MP JPEG, raw body", f"{ours.url}/storage/", ours,
             raw(photo, folder)),
            ("upload 1 MP JPEG", f"{ours.url}/storage/", ours,
             multipart(photo, folder)),
            ("bare Flask upload, Pillow verify, raw body", f"{bare.url}/upload", bare,
             raw(photo, folder)),
            ("bare Flask upload, Pillow verify", f"{bare.url}/upload", bare,
             multipart(photo, folder)),
            (BARE_STORE, f"{bare.url}/store", bare, raw(photo, folder)),
        ]
        for url, server in ((f"{base}.webp", ours), (base, ours),
                            (f"{bare.url}/file", bare)):
            wrk("warm-up", url, server, seconds=SECONDS)  # discarded
        runs: dict[str, list[Result]] = {}
        again: collections.Counter[str] = collections.Counter()
        for scenarios in (reads, uploads):
            for _ in range(ROUNDS):
                for name, url, server, script in scenarios:
                    result, tries = _balanced_wrk(name, url, server, script)
                    runs.setdefault(name, []).append(result)
                    again[name] += tries - 1
    return [_median(name + SIDE_BY_SIDE, results, again[name])
            for name, results in runs.items()]


def _balanced_wrk(
    name: str, url: str, server: Gunicorn, script: Path | None,
) -> tuple[Result, int]:
    """wrk on ``url``, run again while its connections sit lopsided on one worker;
    the last result and how many runs it took."""
    tries = 0
    while True:
        tries += 1
        split: list[int] = []
        counter = threading.Thread(
            target=lambda into=split: into.extend(_connections_per_worker(server)))
        counter.start()
        result = wrk(name, url, server, script, seconds=SECONDS)
        counter.join()
        balanced = not split or max(split) <= LOPSIDED * sum(split)
        if balanced or tries == TRIES:
            return result, tries


def _connections_per_worker(server: Gunicorn) -> list[int]:
    """Established connections to ``server``'s port per worker, halfway through a
    run (``ss``, Debian's iproute2, names the process holding each socket)."""
    time.sleep(SECONDS / 2)
    port = server.url.rsplit(":", 1)[1]
    try:
        listing = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
            capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:  # no iproute2: no check
        return []
    held = collections.Counter(int(pid) for pid in re.findall(r"pid=(\d+)", listing))
    return [held[pid] for pid in server.workers()]


def _median(name: str, results: list[Result], again: int) -> Result:
    """One row for several runs of a scenario: median rate and latencies, the
    largest RSS, every non-2xx answer, and each round's rate; ``again``: runs
    redone for lopsided connections, said in the name."""
    return Result(
        name,
        statistics.median(r.rps for r in results),
        statistics.median(r.p50 for r in results),
        statistics.median(r.p99 for r in results),
        max((r.rss_mib or 0) for r in results) or None,
        sum(r.errors for r in results),
        tuple(r.rps for r in results),
        again,
    )
