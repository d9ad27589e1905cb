"""`make bench-growth`: how the cost grows with the work, in one process.

Three tables, each printed as Markdown for docs/benchmarks.md:

- the upload (check and store) and a cold 256 px WebP thumbnail of originals of
  0.25, 1, 12 and 48 MP (generated photos, as `make bench` makes them);
- the CPU µs of a GET of a cached variant with 1, 10 and 1,000 images stored;
- the peak RSS (VmHWM) of a fresh converter process converting a 12 MP original
  to WebP and to AVIF at full size, against the budget in docs/operations.md.
"""

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from per_request import caller, microseconds, quiet_access_log
from progimage.config import Settings
from progimage.web import create_app
from run import photo

SIZES_MP = {0.25: (600, 416), 1: (1200, 832), 12: (4000, 3000), 48: (8000, 6000)}
STORED = (1, 10, 1000)
#: The converter's peak for a 12 MP conversion, as docs/operations.md states it.
BUDGET_MIB = {"webp": 256, "avif": 512}


@contextmanager
def service(folder: Path) -> Iterator[tuple[Flask, FlaskClient]]:
    """A fresh app storing in ``folder``, with its own converter pool."""
    app = create_app(Settings(storage=str(folder / "data"), convert_timeout=600))
    quiet_access_log()
    try:
        yield app, app.test_client()
    finally:
        app.extensions["progimage"].close()


def store(client: FlaskClient, data: bytes) -> str:
    """The reference of ``data``, uploaded as a raw body."""
    response = client.put("/storage/", data=data, content_type="image/jpeg")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def timed_get(client: FlaskClient, path: str) -> float:
    """Milliseconds to answer ``GET path`` (200 expected)."""
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.get_data(as_text=True)
    response.close()
    return elapsed


def by_size(folder: Path) -> list[str]:
    """Rows: upload and cold thumbnail milliseconds per original size."""
    rows = []
    with service(folder) as (_, client):
        store(client, photo(64, 48))  # starts the converter: not timed below
        for megapixels, (width, height) in SIZES_MP.items():
            data = photo(width, height)
            started = time.perf_counter()
            ref = store(client, data)
            upload_ms = (time.perf_counter() - started) * 1000
            thumbnail_ms = timed_get(client, f"/storage/{ref}.webp?w=256")
            rows.append(f"| {megapixels:g} MP ({width}×{height}, {len(data) >> 10} "
                        f"KiB) | {upload_ms:.0f} | {thumbnail_ms:.0f} |")
    return rows


def by_count(folder: Path) -> list[str]:
    """Rows: CPU µs of a cached variant's GET as the store grows."""
    rows = []
    small = photo(64, 48)
    with service(folder) as (app, client):
        refs: list[str] = []
        for count in STORED:
            while len(refs) < count:
                refs.append(store(client, small))
            path = f"/storage/{refs[0]}.webp?w=32"
            timed_get(client, path)  # converted and cached now
            rows.append(f"| {count:,} | {microseconds(caller(app, path)):.0f} |")
    return rows


def converter_peaks(folder: Path) -> list[str]:
    """Rows: a fresh converter's peak RSS converting 12 MP to each format."""
    rows = []
    data = photo(*SIZES_MP[12])
    for extension in ("webp", "avif"):
        with service(folder / extension) as (app, client):
            ref = store(client, data)
            # The upload check started the converter: retire it, so that the
            # conversion runs in a fresh one whose peak is its own.
            pool = app.extensions["progimage"].converters
            pool.retire_idle(0)
            seconds = timed_get(client, f"/storage/{ref}.{extension}") / 1000
            [pid] = pool.processes()
            peak = peak_rss_mib(pid)
            rows.append(f"| {extension.upper()} | {seconds:.1f} | {peak:.0f} | "
                        f"{BUDGET_MIB[extension]} |")
    return rows


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmHWM for process {pid}")


def main() -> None:
    """Print the three tables, with the load they were measured under."""
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sizes = by_size(folder / "sizes")
        counts = by_count(folder / "counts")
        peaks = converter_peaks(folder / "peaks")
    print(f"load average: {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} "
          "at the end (1 min)\n")
    print("| original | upload ms | cold 256 px WebP ms |\n|---|---:|---:|")
    print("\n".join(sizes))
    print("\n| images stored | cached variant GET, CPU µs |\n|---:|---:|")
    print("\n".join(counts))
    print("\n| 12 MP to | seconds | converter peak RSS MiB | budget MiB |\n"
          "|---|---:|---:|---:|")
    print("\n".join(peaks))


if __name__ == "__main__":
    main()
