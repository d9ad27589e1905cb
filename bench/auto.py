"""`make bench-auto`: what ``<ref>.auto`` (negotiation) costs over ``<ref>.webp``.

Through gunicorn with wrk (bench/run.py's helpers), asking ``.auto`` with
``Accept: image/webp`` so that both answer the same WebP bytes:

- cached: one variant converted once, then read ROUNDS times by each URL in turns
  (BENCH_SECONDS each, default 8 s), so that a change in the machine's load falls
  on both; the medians are compared;
- cold: the variant cache off (PROGIMAGE_CACHE_MAX_BYTES=0), every request converts;
  COLD_CONNECTIONS connections (one per converter), and room for them to queue
  (PROGIMAGE_CONVERT_QUEUE): the conversions a finished wrk run leaves behind must
  not get the next run's requests refused with fast 503s, which would count as
  throughput.

wrk's numbers move on a shared machine by more than negotiation costs, so the
cached read is also timed in process (Flask's test client, no network, no
gunicorn), and ``ImageService.resolve`` alone: microseconds per request, the fastest
of several repeats.
"""

import logging
import os
import statistics
import subprocess
import tempfile
import timeit
from pathlib import Path

import requests

from live_servers import Gunicorn
from progimage.config import Settings
from progimage.options import NO_OPTIONS
from progimage.service import ImageService
from progimage.web import create_app
from run import CONNECTIONS, WEBP_ONLY, WORKERS, Result, photo, upload, wrk

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Converter processes per gunicorn worker (PROGIMAGE_CONVERT_WORKERS's default).
COLD_CONNECTIONS = WORKERS * 2
CALLS = 200
REPEATS = 25


def cached(folder: Path, storage: Path) -> tuple[dict[str, list[Result]], str]:
    """wrk rounds of the cached variant by each URL; and the reference."""
    with Gunicorn(folder, {"PROGIMAGE_STORAGE": str(storage)},
                  workers=WORKERS) as server:
        ref = upload(server.url, photo(1155, 866))
        base = f"{server.url}/storage/{ref}"
        urls = {".webp (cached)": (f"{base}.webp", ""),
                ".auto, Accept: image/webp (cached)": (f"{base}.auto", WEBP_ONLY)}
        for url, accept in urls.values():  # converted once, then read from the cache
            _check(url, accept)
        runs: dict[str, list[Result]] = {name: [] for name in urls}
        for _ in range(ROUNDS):
            for name, (url, accept) in urls.items():
                runs[name].append(wrk(name, url, server, accept=accept))
    return runs, ref


def cold(folder: Path, storage: Path, ref: str) -> dict[str, list[Result]]:
    """wrk rounds with the cache off: every request decodes and encodes."""
    env = {"PROGIMAGE_STORAGE": str(storage), "PROGIMAGE_CACHE_MAX_BYTES": "0",
           "PROGIMAGE_CONVERT_QUEUE": str(CONNECTIONS)}
    runs: dict[str, list[Result]] = {}
    with Gunicorn(folder, env, workers=WORKERS) as server:
        base = f"{server.url}/storage/{ref}"
        urls = {".webp (cache off)": (f"{base}.webp", ""),
                ".auto, Accept: image/webp (cache off)": (f"{base}.auto", WEBP_ONLY)}
        runs = {name: [] for name in urls}
        for _ in range(ROUNDS):
            for name, (url, accept) in urls.items():
                runs[name].append(wrk(name, url, server, accept=accept,
                                      connections=COLD_CONNECTIONS))
    return runs


def _check(url: str, accept: str) -> None:
    """Fail unless ``url`` answers WebP (so both URLs measure the same bytes)."""
    headers = {"Accept": accept} if accept else {}
    response = requests.get(url, headers=headers, timeout=120)
    response.raise_for_status()
    assert response.headers["Content-Type"] == "image/webp", response.headers


def in_process(storage: Path, ref: str) -> dict[str, float]:
    """Microseconds per request through Flask's test client, the variant cached."""
    app = create_app(Settings(storage=str(storage)))
    client = app.test_client()
    cases = {".webp": (f"/storage/{ref}.webp", {}),
             ".auto, Accept: image/webp": (f"/storage/{ref}.auto",
                                           {"Accept": WEBP_ONLY})}
    # The access log would time the log handler, not the request.
    logging.disable(logging.INFO)
    times: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for name, (path, headers) in cases.items():
            response = client.get(path, headers=headers)
            assert response.status_code == 200 and \
                response.mimetype == "image/webp", (name, response.status)
        # In turns, so that both see the same load; the fastest repeat of each.
        for _ in range(REPEATS):
            for name, (path, headers) in cases.items():
                times[name].append(timeit.timeit(
                    lambda path=path, headers=headers: client.get(
                        path, headers=headers).close(), number=CALLS))
        micros = {name: min(seconds) / CALLS * 1e6 for name, seconds in times.items()}
        micros.update(_resolving(app.extensions["progimage"], ref))
    finally:
        logging.disable(logging.NOTSET)
        app.extensions["progimage"].close()
    return micros


def _resolving(service: ImageService, ref: str) -> dict[str, float]:
    """Microseconds ``ImageService.resolve`` takes (the record, the target format,
    the variant's key and ETag) for each URL: the part of a read that negotiation
    adds to, without Flask's own cost around it."""
    cases = {"resolve() alone: .webp": ("webp", ()),
             "resolve() alone: .auto, Accept: image/webp": ("auto", ((WEBP_ONLY, 1),))}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(REPEATS):
        for name, (extension, accept) in cases.items():
            times[name].append(timeit.timeit(
                lambda extension=extension, accept=accept: service.resolve(
                    ref, extension, NO_OPTIONS, accept), number=CALLS * 10))
    return {name: min(seconds) / (CALLS * 10) * 1e6 for name, seconds in times.items()}


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _table(runs: dict[str, list[Result]]) -> list[str]:
    lines = []
    for name, results in runs.items():
        rps = statistics.median(result.rps for result in results)
        rounds = ", ".join(f"{result.rps:,.1f}" for result in results)
        p50 = statistics.median(result.p50 for result in results)
        p99 = statistics.median(result.p99 for result in results)
        errors = sum(result.errors for result in results)
        lines.append(f"| {name} | {rps:,.1f} | {rounds} | {p50:.1f} | {p99:.1f} | "
                     f"{errors} |")
    return lines


def main() -> None:
    before = _uptime()
    with tempfile.TemporaryDirectory(prefix="progimage-bench-") as name:
        folder = Path(name)
        storage = folder / "data"
        warm, ref = cached(folder, storage)
        micros = in_process(storage, ref)
        unwarmed = cold(folder, storage, ref)
    print(f"uptime before: {before}\nuptime after:  {_uptime()}\n"
          f"{WORKERS} gunicorn workers, {ROUNDS} rounds of wrk per row\n")
    print("| scenario | req/s (median) | each round | p50 ms | p99 ms | non-2xx |")
    print("|---|---:|---|---:|---:|---:|")
    print("\n".join(_table(warm) + _table(unwarmed)))
    print("\n| in process, cached variant | µs per request |\n|---|---:|")
    for name, value in micros.items():
        print(f"| {name} | {value:,.1f} |")
    values = list(micros.values())  # .webp, .auto; resolve(): .webp, .auto
    for kind, (webp, auto) in (("in process", values[:2]),
                               ("resolve() alone", values[2:])):
        print(f"\n.auto - .webp, {kind}: {auto - webp:+,.1f} µs "
              f"({auto / webp - 1:+.1%})")


if __name__ == "__main__":
    main()
