"""`make bench-growth`: how the cost grows with the work, in one process.

Four tables, each printed as Markdown for docs/benchmarks.md:

- the upload (check and store) and a cold 256 px WebP thumbnail of originals of
  0.25, 1, 12 and 48 MP (generated photos, as `make bench` makes them);
- the CPU µs of a GET of a cached variant with 1, 10 and 1,000 images stored;
- the peak RSS (VmHWM) of a fresh converter process converting a 12 MP original
  to WebP and to AVIF at full size, against the budget in docs/operations.md;
- wrk's req/s through deploy/nginx-scaleout.conf in front of 1 and of 2 gunicorn
  instances (2 workers each) sharing one bucket of moto's S3 server, on loopback.

Arguments name the tables to run (sizes, counts, peaks, instances); none: all.
"""

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import requests
from flask import Flask
from flask.testing import FlaskClient

from live_servers import CREDENTIALS, Gunicorn, moto_server, nginx, scaleout_site
from per_request import caller, microseconds, quiet_access_log
from progimage.config import Settings
from progimage.web import create_app
from run import CONNECTIONS, SECONDS, photo, raw, upload, wrk

SIZES_MP = {0.25: (600, 416), 1: (1200, 832), 12: (4000, 3000), 48: (8000, 6000)}
STORED = (1, 10, 1000)
#: The converter's peak for a 12 MP conversion, as docs/operations.md states it.
BUDGET_MIB = {"webp": 256, "avif": 512}
INSTANCES = (1, 2)
S3_SCENARIOS = ("GET original 1 MP", "warm cached variant (WebP)",
                "upload 1 MP JPEG, raw body")


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


def by_instances(folder: Path) -> list[str]:
    """Rows: req/s of each S3_SCENARIOS through nginx, with 1 and 2 instances."""
    data = photo(*SIZES_MP[1])
    with moto_server() as endpoint:
        rates = [on_s3(folder / f"{count}-instances", endpoint, count, data)
                 for count in INSTANCES]
    rows = []
    for scenario, one, two in zip(S3_SCENARIOS, *rates, strict=True):
        errors = f"{one[1]} / {two[1]}"
        rows.append(f"| {scenario} | {one[0]:,.0f} | {two[0]:,.0f} | "
                    f"{two[0] / one[0]:.2f} | {errors} |")
    return rows


def on_s3(folder: Path, endpoint: str, count: int,
          data: bytes) -> list[tuple[float, int]]:
    """(req/s, non-2xx) of each S3_SCENARIOS through deploy/nginx-scaleout.conf in
    front of ``count`` instances on a fresh bucket, each with its own variant cache
    (as on machines of their own). One instance is listed twice in the upstream, so
    that both runs pass through the same nginx."""
    bucket = f"growth-{count}-{time.monotonic_ns()}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=bucket)
    env = {**CREDENTIALS, "PROGIMAGE_S3_ENDPOINT": endpoint,
           "PROGIMAGE_STORAGE": f"s3://{bucket}/growth"}
    with contextlib.ExitStack() as stack:
        servers = []
        for number in range(count):
            home = folder / f"instance-{number}"
            home.mkdir(parents=True)
            cache = {**env, "PROGIMAGE_CACHE_DIR": str(home / "variants")}
            servers.append(stack.enter_context(Gunicorn(home, cache, workers=2)))
        ports = [server.port for server in servers]
        url = stack.enter_context(
            nginx(folder / "nginx", scaleout_site((ports * 2)[:2])))
        ref = upload(servers[0].url, data)
        for server in servers:  # converted once, then cached by each instance
            fetch(f"{server.url}/storage/{ref}.webp")
        base = f"{url}/storage"
        results = [wrk(scenario, target, None, script) for scenario, target, script in (
            (S3_SCENARIOS[0], f"{base}/{ref}", None),
            (S3_SCENARIOS[1], f"{base}/{ref}.webp", None),
            (S3_SCENARIOS[2], f"{base}/", raw(data, folder)),
        )]
    return [(result.rps, result.errors) for result in results]


def fetch(url: str) -> None:
    """GET ``url`` once; :raises requests.HTTPError: it did not answer 2xx."""
    response = requests.get(url, timeout=120)
    response.raise_for_status()


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmHWM for process {pid}")


TABLES = {
    "sizes": ("| original | upload ms | cold 256 px WebP ms |\n|---|---:|---:|",
              by_size),
    "counts": ("| images stored | cached variant GET, CPU µs |\n|---:|---:|", by_count),
    "peaks": ("| 12 MP to | seconds | converter peak RSS MiB | budget MiB |\n"
              "|---|---:|---:|---:|", converter_peaks),
    "instances": (f"S3 (moto) behind nginx, wrk -t2 -c{CONNECTIONS} -d{SECONDS}s:\n\n"
                  "| scenario | 1 instance req/s | 2 instances req/s | ratio | "
                  "non-2xx (1 / 2) |\n|---|---:|---:|---:|---:|", by_instances),
}


def main(names: list[str]) -> None:
    """Print the tables ``names`` (all if empty), with the load they were measured
    under."""
    unknown = set(names) - set(TABLES)
    if unknown:
        raise SystemExit(f"no table {sorted(unknown)}; tables: {', '.join(TABLES)}")
    chosen = {name: TABLES[name] for name in names or TABLES}
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        rows = {key: measure(folder / key) for key, (_, measure) in chosen.items()}
    print(f"load average: {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} "
          "at the end (1 min)")
    for key, (header, _) in chosen.items():
        print(f"\n{header}")
        print("\n".join(rows[key]))


if __name__ == "__main__":
    main(sys.argv[1:])
