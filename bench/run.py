"""`make bench`: ProgImage against its limits, on loopback, bounded in time.

Starts every server itself (gunicorn with deploy/gunicorn.conf.py, nginx with
deploy/nginx.conf, a static-file nginx, and thumbor when it is installed: see
thumbor_server.py), drives each with wrk (16 connections,
BENCH_SECONDS seconds, default 8) and prints a Markdown table of answers per second,
p50/p99 latency and RSS, the load average around each server's runs, the bytes and
SSIM of the photo's WebP and AVIF variants, then the ratios the performance targets
are stated in. The test images are generated, so every run measures the same bytes.

Answers per second count 2xx (and 3xx) answers only: a refused request (a fast 503)
is not throughput, and a ratio over a row that had any is printed as invalid. The
cold conversion rows (cache off), ProgImage's and thumbor's alike, run with
COLD_CONNECTIONS (two per converter process: every converter stays busy, and more
connections would only queue) and ProgImage with PROGIMAGE_CONVERT_QUEUE=COLD_QUEUE,
so that its admission limit (2 running + 2 waiting per worker by default) refuses
none of them, even with every connection on one worker; the shipped limit would
otherwise measure how fast it says no, not how fast it converts. A discarded run of
cold thumbnails comes first on each server (WARM_UP_SECONDS), so that the first cold
row does not pay for starting the converter processes.

Memory: the RSS of a server's whole process tree (gunicorn master, workers and
converter processes; thumbor's processes), summed from /proc, at rest and at its
peak under load; the other rows' RSS is the largest worker's after the run.
"""

import contextlib
import functools
import io
import json
import multiprocessing
import os
import platform
import random
import re
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from PIL import Image, ImageFilter

import placeholders
import thumbor_server
# The tests' launcher of real servers: `make bench` puts tests/ on PYTHONPATH.
from live_servers import Gunicorn, deploy_site, memory_kib, nginx
from progimage.config import Settings
from progimage.imaging import FormatRegistry, encoder_params

ROOT = Path(__file__).resolve().parents[1]

SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
# deploy/gunicorn.conf.py's default: one worker per CPU.
WORKERS = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
CONNECTIONS = 16
# The /process rows: fewer connections than one worker admits conversions (2
# running + 2 waiting), so that neither side is answered 503 (a stored image's
# conversion is refused past that; /process waits, as an upload check does).
CONVERSION_CONNECTIONS = 3
# The cold rows (cache off; thumbor's too): two connections per converter process
# (PROGIMAGE_CONVERT_WORKERS, 2 per worker), enough to keep every one busy; more
# would only add queueing to the latency. Up to COLD_QUEUE conversions may wait in
# one worker: even all of a run's connections and the previous run's conversions
# still finishing on one worker are let in, so that no request is answered a fast
# 503, which would not measure a conversion (wrk() counts 2xx answers only anyway).
COLD_CONNECTIONS = WORKERS * 2 * 2
COLD_QUEUE = COLD_CONNECTIONS * 2
# The discarded run before the cold rows: long enough for every converter to start.
WARM_UP_SECONDS = 2
COLD_FORMATS = (("webp", "WEBP"), ("avif", "AVIF"), ("png", "PNG"), ("jpg", "JPEG"))
# The Accept header of the .auto rows: WebP, so that they compare with the WebP ones.
WEBP_ONLY = "image/webp"
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
STATIC_SITE = """
server {{
    listen 8080;
    sendfile on;
    location / {{ root {root}; }}
}}
"""
UPLOAD_SCRIPT = """
local file = io.open("{body}", "rb")
wrk.method = "{method}"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "{content_type}"
"""
BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"
# The bulk row: this many entries (PROGIMAGE_BULK_MAX_ENTRIES's default), as
# BULK_IMAGES small images x BULK_WIDTHS widths each, all cached before it is measured.
BULK_ENTRIES = 500
BULK_IMAGES = 50
BULK_WIDTHS = range(16, 16 + BULK_ENTRIES // BULK_IMAGES)
# The rows side_by_side.py measures end in this; the per-request targets use them.
SIDE_BY_SIDE = " (side by side, median)"
# The bare app keeping a raw upload as durably as ProgImage answers only after:
# its file fsynced, renamed in, the folder fsynced (bare_app.py's PUT /store).
BARE_STORE = "bare Flask upload, Pillow verify, fsynced file, raw body"
# How often the bulk row reads the worker's RSS while the ZIP streams.
RSS_SAMPLE_SECONDS = 0.002
# How often the process tree's RSS is read under load: a dozen /proc reads a time.
TREE_SAMPLE_SECONDS = 0.02


@dataclass
class Result:
    """One wrk run (or an in-process measurement, without latency and RSS): ``rps``
    counts the 2xx and 3xx answers only, ``errors`` the others (wrk's Non-2xx)."""

    name: str
    rps: float | None
    p50: float | None = None
    p99: float | None = None
    rss_mib: float | None = None
    errors: int = 0
    #: Each round's rate, for a row that is the median of several (side_by_side.py).
    rounds: tuple[float, ...] = ()
    #: Runs redone because their connections sat on one worker (side_by_side.py).
    again: int = 0


@dataclass
class Encoded:
    """A variant of the 1 MP photo as ProgImage answers it by default."""

    ext: str
    size: int
    ssim: float  # luminance SSIM against the uploaded JPEG


@dataclass
class Ratio:
    """A target: ``ours`` / ``baseline`` answers per second, to reach ``goal``; a
    ratio with no goal is context for the targets, measured in the same run."""

    ours: str
    baseline: str
    goal: float | None
    value: float | None = None  # None: not measured, or the baseline served nothing
    non2xx: int = 0  # refused answers on either side: the ratio means nothing

    @property
    def name(self) -> str:
        """How the report names the target."""
        return f"{self.ours} / {self.baseline}"

    def cells(self) -> str:
        """The ratio, the goal and whether it is met, as Markdown table cells."""
        goal = "context" if self.goal is None else f">= {self.goal}"
        if self.non2xx:
            return f"invalid: {self.non2xx} non-2xx | {goal} | invalid"
        if self.value is None:
            return f"n/a | {goal} | not measured"
        if self.goal is None:
            return f"{self.value:.2f} | {goal} | -"
        met = "yes" if self.value >= self.goal else "NO"
        return f"{self.value:.2f} | {goal} | {met}"


class LoadLog:
    """The 1-minute load average before and after each server's runs, so that a
    loaded stretch shows next to the rows it touched."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    @contextlib.contextmanager
    def during(self, server: str) -> Iterator[None]:
        """Record the load average around the body's runs against ``server``."""
        before = os.getloadavg()[0]
        try:
            yield
        finally:
            self.rows.append((server, before, os.getloadavg()[0]))

    def table(self) -> list[str]:
        """A Markdown table, a line per server in the order they ran."""
        lines = ["| server | load before | load after |", "|---|---:|---:|"]
        lines += [f"| {server} | {before:.1f} | {after:.1f} |"
                  for server, before, after in self.rows]
        return lines


def photo(width: int, height: int) -> bytes:
    """A photo-like JPEG (structure, gradients and grain), the same on every run."""
    rnd = random.Random(width * height)
    size = (width, height)
    structure = Image.effect_mandelbrot(size, (-2.2, -1.3, 0.9, 1.3), 64)
    down = Image.linear_gradient("L").resize(size)
    across = Image.linear_gradient("L").rotate(90).resize(size)
    image = Image.merge("RGB", (structure, down, across))
    grain = Image.frombytes("L", size, rnd.randbytes(width * height))
    grain = grain.filter(ImageFilter.GaussianBlur(1)).convert("RGB")
    image = Image.blend(image.filter(ImageFilter.GaussianBlur(2)), grain, 0.25)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def placeholder_rows(data: bytes) -> list[Result]:
    """The upload check of ``data`` in one process, and the placeholder job its
    first ``/info`` runs (bench/placeholders.py), as runs per second."""
    registry = FormatRegistry.from_pillow()
    check = placeholders.check_ms(data, registry)[1]
    later = placeholders.later_ms(data, registry)
    return [Result("upload check 1 MP JPEG, one process", 1000 / check),
            Result("its placeholder at the first /info, one process",
                   1000 / later if later else 0)]


def wrk(
    name: str, url: str, server: Gunicorn | None, script: Path | None = None,
    accept: str = "", connections: int = CONNECTIONS, seconds: int = SECONDS,
) -> Result:
    """Run wrk against ``url`` (with an ``accept`` header if given); RSS is the
    largest of the server's workers after.

    :raises subprocess.CalledProcessError: wrk failed.
    """
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
               "--timeout", "30s", url]
    if accept:
        command[1:1] = ["-H", f"Accept: {accept}"]
    if script:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rss = max(_rss(server.workers()) if server else [0]) / 1024
    return parse_wrk(name, output, rss or None)


def parse_wrk(name: str, output: str, rss_mib: float | None = None) -> Result:
    """The Result of wrk's ``output``: answers per second counts 2xx (and 3xx)
    answers only, as wrk's Requests/sec would count a fast 503 as throughput.

    :raises AttributeError: ``output`` is not wrk's report.
    """
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    done = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", output, re.M)
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    non2xx = int(refused.group(1)) if refused else 0
    seconds = _ms(done.group(2)) / 1000
    return Result(
        name, (int(done.group(1)) - non2xx) / seconds,
        _ms(latency["50"]), _ms(latency["99"]), rss_mib, non2xx,
    )


def _rss(pids: list[int]) -> list[int]:
    """VmRSS of each live process (a recycled worker may be gone)."""
    sizes = [0]
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            sizes.append(memory_kib(pid, "VmRSS"))
    return sizes


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * UNITS[unit]


def upload(url: str, data: bytes) -> str:
    """Store ``data`` and return its reference."""
    files = {"data": ("p.jpg", data)}
    response = requests.put(f"{url}/storage/", files=files, timeout=60)
    response.raise_for_status()
    return response.text


def pillow_rates(data: bytes) -> dict[str, tuple[float, float]]:
    """Per format: (decode+encode per second, encode-only per second), one core."""
    params = encoder_params(Settings())
    rates = {}
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    for _, fmt in COLD_FORMATS:
        settings = params.get(fmt, {})
        rates[fmt] = (
            _per_second(functools.partial(_convert, data, fmt, settings)),
            _per_second(functools.partial(decoded.save, io.BytesIO(), fmt, **settings)),
        )
    return rates


def parallel_rate(data: bytes, fmt: str, processes: int) -> float:
    """Decode+encode per second of ``processes`` Pillow processes at once: the
    ceiling for a cold conversion, measured under the machine's current load."""
    params = encoder_params(Settings()).get(fmt, {})
    job = functools.partial(_per_second, functools.partial(_convert, data, fmt, params))
    with multiprocessing.Pool(processes) as pool:
        results = [pool.apply_async(job) for _ in range(processes)]
        return sum(result.get() for result in results)


def _convert(data: bytes, fmt: str, params: dict) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.save(io.BytesIO(), fmt, **params)


def _per_second(action, seconds: float = 2.0) -> float:
    action()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        action()
        count += 1
    return count / (time.perf_counter() - started)


def multipart_body(data: bytes, boundary: str = BOUNDARY) -> bytes:
    """``data`` as the multipart file field ``data``, as a browser sends it."""
    return (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; "
        f"filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()


def multipart(data: bytes, folder: Path) -> Path:
    """A wrk script that uploads ``data`` as the multipart field ``data``."""
    return _upload_script(folder, "multipart", multipart_body(data),
                          f"multipart/form-data; boundary={BOUNDARY}")


def raw(data: bytes, folder: Path) -> Path:
    """A wrk script that uploads ``data`` as the body, ``Content-Type: image/jpeg``."""
    return _upload_script(folder, "raw", data, "image/jpeg")


def _upload_script(folder: Path, name: str, body: bytes, content_type: str,
                   method: str = "PUT") -> Path:
    body_path = folder / f"upload-{name}.body"  # read by the wrk script
    body_path.write_bytes(body)
    script = folder / f"upload-{name}.lua"
    script.write_text(UPLOAD_SCRIPT.format(body=body_path, content_type=content_type,
                                           method=method))
    return script


def process_rows(server: Gunicorn, ref: str, data: bytes, folder: Path) -> list[Result]:
    """``POST /process.webp?w=256`` of ``data`` as a raw body, beside the same
    conversion of the stored ``ref`` (``data`` uploaded): ``server``'s cache must be
    off, so that every GET converts too."""
    script = _upload_script(folder, "process", data, "image/jpeg", method="POST")
    return [
        wrk(f"POST /process.webp?w=256, raw 1 MP JPEG, {CONVERSION_CONNECTIONS} conns",
            f"{server.url}/process.webp?w=256", server, script,
            connections=CONVERSION_CONNECTIONS),
        wrk(f"same conversion of the stored image (cache off), "
            f"{CONVERSION_CONNECTIONS} conns", f"{server.url}/storage/{ref}.webp?w=256",
            server, connections=CONVERSION_CONNECTIONS),
    ]


def bulk_memory_rows(folder: Path) -> list[Result]:
    """The RSS of a lone gunicorn worker at rest, and its peak while it streams a
    ZIP of BULK_ENTRIES small variants it has cached; the ZIP's time as p50."""
    env = {"PROGIMAGE_STORAGE": str(folder / "bulk-data")}
    with Gunicorn(folder, env, workers=1) as server:
        [worker] = server.workers()
        refs = [upload(server.url, photo(64 + number, 48))
                for number in range(BULK_IMAGES)]
        fresh = memory_kib(worker, "VmRSS")
        entries = [{"ref": ref, "ext": "webp", "options": {"w": width}}
                   for ref in refs for width in BULK_WIDTHS]
        url = f"{server.url}/storage/bulk"
        _bulk(url, entries)  # converts every variant into the cache
        rest = memory_kib(worker, "VmRSS")
        peak, seconds = _peak_rss(functools.partial(memory_kib, worker, "VmRSS"),
                                  functools.partial(_bulk, url, entries))
    return [
        Result("bulk: worker RSS after the uploads, no bulk yet", None,
               rss_mib=fresh / 1024),
        Result(f"bulk: worker RSS at rest, {BULK_ENTRIES} variants cached", None,
               rss_mib=rest / 1024),
        Result(f"bulk ZIP of {BULK_ENTRIES} cached variants (peak RSS, streaming)",
               1 / seconds, seconds * 1000, rss_mib=peak / 1024),
    ]


def _bulk(url: str, entries: list[dict]) -> None:
    """Read the ZIP of ``entries``; :raises AssertionError: an entry failed."""
    response = requests.post(url, json=entries, timeout=300)
    response.raise_for_status()
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    failed = [item for item in manifest if item["status"] != 200]
    assert len(manifest) == len(entries) and not failed, failed[:3]


def _peak_rss(sample: Callable[[], int], action: Callable[[], object],
              every: float = RSS_SAMPLE_SECONDS) -> tuple[int, float]:
    """The highest of ``sample()`` (KiB) while ``action()`` runs, sampled ``every``
    seconds, and the seconds it took."""
    samples, done = [sample()], threading.Event()

    def sampler() -> None:
        while not done.wait(every):
            samples.append(sample())

    thread = threading.Thread(target=sampler)
    thread.start()
    started = time.perf_counter()
    try:
        action()
    finally:
        done.set()
        thread.join()
    return max(samples), time.perf_counter() - started


def descendants(pid: int) -> list[int]:
    """``pid``'s children, theirs and so on, from /proc: a child started by any
    thread of a process is listed under that thread's task."""
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for child in map(int, children.read_text().split()):
                found += [child, *descendants(child)]
    return found


def tree_rss_kib(pid: int) -> int:
    """The VmRSS of ``pid`` and every descendant, summed (pages that the processes
    share, such as a forked worker's copy of its master, count in each)."""
    return sum(_rss([pid, *descendants(pid)]))


def tree_rows(server: str, pid: int, load: Callable[[], object]) -> list[Result]:
    """The process tree's RSS at rest, then its peak while ``load()`` runs."""
    rest = tree_rss_kib(pid)
    peak, _ = _peak_rss(functools.partial(tree_rss_kib, pid), load, TREE_SAMPLE_SECONDS)
    return [Result(f"{server}: process tree RSS at rest", None, rss_mib=rest / 1024),
            Result(f"{server}: process tree RSS, peak under load", None,
                   rss_mib=peak / 1024)]


def run(folder: Path, loads: LoadLog) -> tuple[list[Result], dict, int, list[Encoded]]:
    """Every scenario; returns the results, Pillow's rates, the worker count and the
    bytes and SSIM of the photo's WebP and AVIF variants."""
    small, large = photo(1155, 866), photo(4000, 3000)
    (folder / "static").mkdir()
    (folder / "static" / "photo.jpg").write_bytes(small)
    storage = folder / "data"
    with loads.during("ProgImage"):
        results, refs, encoded = warm_rows(folder, storage, small, large)
    with loads.during("ProgImage, cache off"):
        results += cold_rows(folder, storage, refs[0], small)
    results += placeholder_rows(small)
    if thumbor_server.available():
        with loads.during("thumbor"):
            results += against_thumbor(folder, WORKERS)
    with loads.during("bare Flask"):
        results += bare_rows(folder, small)
    site = STATIC_SITE.format(root=folder / "static")
    with loads.during("nginx"), nginx(folder / "nginx-static", site) as url:
        results.append(wrk("nginx static file", f"{url}/photo.jpg", None))
        results.append(wrk("nginx static file (the WebP variant)",
                           f"{url}/photo.webp", None))
    with loads.during("ProgImage behind nginx"):
        results += behind_nginx(folder, storage, refs[0])
    with loads.during("ProgImage, bulk (1 worker)"):
        results += bulk_memory_rows(folder)
    # Imported here: side_by_side.py builds on this module's helpers.
    from side_by_side import side_by_side_rows
    with loads.during("ProgImage and bare Flask, side by side"):
        results += side_by_side_rows(folder, folder / "side-by-side", small)
    return results, pillow_rates(small), WORKERS, encoded


def warm_rows(
    folder: Path, storage: Path, small: bytes, large: bytes,
) -> tuple[list[Result], list[str], list[Encoded]]:
    """Originals, cached variants and uploads, with the cache on; the tree's RSS
    after one upload; the references of ``small`` and ``large``; and what the WebP
    and AVIF variants of ``small`` weigh and how close they come to it."""
    with Gunicorn(folder, {"PROGIMAGE_STORAGE": str(storage)},
                  workers=WORKERS) as server:
        refs = [upload(server.url, small)]
        results = [Result("ProgImage: process tree RSS at rest (after one upload)",
                          None, rss_mib=tree_rss_kib(server.process.pid) / 1024)]
        refs.append(upload(server.url, large))
        base = f"{server.url}/storage"
        results.append(wrk("GET original 1 MP", f"{base}/{refs[0]}", server))
        results.append(wrk("GET original 12 MP", f"{base}/{refs[1]}", server))
        variants = {ext: _get(f"{base}/{refs[0]}.{ext}") for ext in ("webp", "avif")}
        (folder / "static" / "photo.webp").write_bytes(variants["webp"])
        results.append(wrk("warm variant (WebP, cached)", f"{base}/{refs[0]}.webp",
                           server))
        # .auto over the same cached variant: the negotiation's own cost.
        requests.get(f"{base}/{refs[0]}.auto", headers={"Accept": WEBP_ONLY},
                     timeout=60).raise_for_status()
        results.append(wrk("warm .auto -> WebP (cached)", f"{base}/{refs[0]}.auto",
                           server, accept=WEBP_ONLY))
        # Last: thousands of fsynced uploads leave the disk busy writing back.
        results.append(wrk("upload 1 MP JPEG", f"{base}/", server,
                           multipart(small, folder)))
        results.append(wrk("upload 1 MP JPEG, raw body", f"{base}/", server,
                           raw(small, folder)))
    return results, refs, encoded_sizes(small, variants)


def _get(url: str) -> bytes:
    """The body of ``url``; :raises requests.HTTPError: it did not answer 2xx."""
    response = requests.get(url, timeout=120)
    response.raise_for_status()
    return response.content


def cold_rows(folder: Path, storage: Path, ref: str, small: bytes) -> list[Result]:
    """Conversions with the cache off, each beside Pillow alone in as many
    processes (before and after, so that both saw the same machine load); the
    tree's peak RSS while WebP is converted."""
    env = {"PROGIMAGE_STORAGE": str(storage), "PROGIMAGE_CACHE_MAX_BYTES": "0",
           "PROGIMAGE_CONVERT_QUEUE": str(COLD_QUEUE)}
    results = []
    with Gunicorn(folder, env, workers=WORKERS) as server:
        base = f"{server.url}/storage/{ref}"
        _warm_up(f"{base}.jpg?w=256", server)
        for ext, fmt in COLD_FORMATS:
            before = parallel_rate(small, fmt, WORKERS)
            convert = functools.partial(
                wrk, f"cold conversion to {ext} (cache off)", f"{base}.{ext}", server,
                connections=COLD_CONNECTIONS)
            if ext == "webp":
                peak = _peak_tree(server.process.pid,
                                  lambda convert=convert: results.append(convert()))
            else:
                results.append(convert())
            ceiling = (before + parallel_rate(small, fmt, WORKERS)) / 2
            results.append(Result(f"Pillow alone, {WORKERS} processes: {fmt}", ceiling))
        results.append(Result("ProgImage: process tree RSS, peak under cold WebP",
                              None, rss_mib=peak / 1024))
        results.append(wrk("cold thumbnail 256 px JPEG (cache off)",
                           f"{base}.jpg?w=256", server,
                           connections=COLD_CONNECTIONS))
        results.append(wrk("cold .auto -> WebP (cache off)", f"{base}.auto", server,
                           accept=WEBP_ONLY, connections=COLD_CONNECTIONS))
        results += process_rows(server, ref, small, folder)
    return results


def _warm_up(url: str, server: Gunicorn | None) -> None:
    """A discarded run of cold conversions, so that the first measured row does
    not pay for starting the converter processes (or the server's first imports)."""
    wrk("warm-up", url, server, connections=COLD_CONNECTIONS, seconds=WARM_UP_SECONDS)


def bare_rows(folder: Path, small: bytes) -> list[Result]:
    """The bare Flask app: send_file, and uploads verified with Pillow; its tree's
    RSS after start and at its peak over those runs."""
    bare = {"BENCH_FILE": str(folder / "static" / "photo.jpg")}
    path = ("--pythonpath", str(ROOT / "bench"), "--preload")
    results = []
    with Gunicorn(folder, bare, *path, workers=WORKERS,
                  app="bare_app:create_app()") as server:
        rest = tree_rss_kib(server.process.pid)
        runs = [
            ("bare Flask send_file", "/file", None),
            ("bare Flask upload, Pillow verify", "/upload", multipart(small, folder)),
            ("bare Flask upload, Pillow verify, raw body", "/upload",
             raw(small, folder)),
        ]
        peak = _peak_tree(server.process.pid, lambda: results.extend(
            wrk(name, f"{server.url}{route}", server, script)
            for name, route, script in runs))
    return results + [
        Result("bare Flask: process tree RSS at rest", None, rss_mib=rest / 1024),
        Result("bare Flask: process tree RSS, peak under load", None,
               rss_mib=peak / 1024),
    ]


def _peak_tree(pid: int, action: Callable[[], object]) -> int:
    """The highest RSS (KiB) of ``pid``'s process tree while ``action()`` runs."""
    peak, _ = _peak_rss(functools.partial(tree_rss_kib, pid), action,
                        TREE_SAMPLE_SECONDS)
    return peak


def encoded_sizes(source: bytes, variants: dict[str, bytes]) -> list[Encoded]:
    """Each variant's bytes and its luminance SSIM against ``source``."""
    # Imported here: encoders imports this module (for photo()).
    from encoders import luminance, ssim

    with Image.open(io.BytesIO(source)) as image:
        reference = luminance(image)
    return [Encoded(ext, len(data), ssim(reference, data))
            for ext, data in variants.items()]


def against_thumbor(folder: Path, workers: int) -> list[Result]:
    """thumbor (Pillow too) on the same photo, one process per core, cold (with
    COLD_CONNECTIONS, as ProgImage's cold rows) and with its result storage; its
    process tree's RSS after start and at its peak under cold WebP."""
    results = []
    images = folder / "static"
    with thumbor_server.thumbor(folder / "thumbor", images, workers) as (url, pid):
        rest = tree_rss_kib(pid)
        _warm_up(f"{url}/unsafe/256x0/photo.jpg", None)
        for name, path in (("WebP", "filters:format(webp)/photo.jpg"),
                           ("thumbnail 256 px", "256x0/photo.jpg")):
            convert = functools.partial(wrk, f"thumbor: cold {name}",
                                        f"{url}/unsafe/{path}", None,
                                        connections=COLD_CONNECTIONS)
            if name == "WebP":
                peak = _peak_tree(
                    pid, lambda convert=convert: results.append(convert()))
            else:
                results.append(convert())
    results += [
        Result("thumbor: process tree RSS at rest", None, rss_mib=rest / 1024),
        Result("thumbor: process tree RSS, peak under cold WebP", None,
               rss_mib=peak / 1024),
    ]
    with thumbor_server.thumbor(folder / "thumbor-results", images, workers,
                                result_storage=True) as (url, _):
        webp = f"{url}/unsafe/filters:format(webp)/photo.jpg"
        requests.get(webp, timeout=60).raise_for_status()
        results.append(wrk("thumbor: WebP from its result storage", webp, None))
    return results


def behind_nginx(folder: Path, storage: Path, ref: str) -> list[Result]:
    """ProgImage behind deploy/nginx.conf, with and without X-Accel-Redirect."""
    results = []
    for accel, how in (("/_progimage", "X-Accel-Redirect"), ("", "nginx cache")):
        env = {"PROGIMAGE_STORAGE": str(storage), "PROGIMAGE_ACCEL_REDIRECT": accel}
        with Gunicorn(folder, env, workers=WORKERS) as server:
            site = deploy_site(server.url.removeprefix("http://"), storage,
                               folder / f"nginx-cache-{how[0]}")
            with nginx(folder / f"nginx-front-{how[0]}", site) as url:
                base = f"{url}/storage/{ref}"
                for path in (base, f"{base}.webp"):
                    requests.get(path, timeout=60).raise_for_status()
                results.append(wrk(f"behind nginx: GET original ({how})", base,
                                   server))
                if accel:
                    results.append(wrk("behind nginx: warm variant (nginx cache)",
                                       f"{base}.webp", server))
    return results


def report(results: list[Result], rates: dict, workers: int, load: str,
           loads: LoadLog | None = None, encoded: list[Encoded] = ()) -> str:
    """The Markdown table, Pillow's rates and the target ratios."""
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    lines = [
        f"Machine: {os.cpu_count()} CPUs, {cpu}; Python {platform.python_version()}, "
        f"Pillow {Image.__version__}; "
        f"wrk -t2 -c{CONNECTIONS} -d{SECONDS}s on loopback (cold rows: "
        f"-c{COLD_CONNECTIONS}, PROGIMAGE_CONVERT_QUEUE={COLD_QUEUE}); {workers} "
        "gunicorn workers.",
        f"Load average (1 min) before and after the run: {load} (other work on the "
        "machine competes for the same cores).",
        "",
        *table(results),
    ]
    if loads:
        lines += ["", *loads.table()]
    lines += ["", "| Pillow, one process, at the end | decode+encode /s | encode /s |",
              "|---|---:|---:|"]
    for fmt, (full, encode) in rates.items():
        lines.append(f"| {fmt} | {full:.1f} | {encode:.1f} |")
    if encoded:
        lines += ["", *quality_table(encoded)]
    lines += ["", "| target | ratio | goal | met |", "|---|---:|---:|---|"]
    lines += [f"| {ratio.name} | {ratio.cells()} |"
              for ratio in ratios(results, workers)]
    return "\n".join(lines)


def quality_table(encoded: list[Encoded]) -> list[str]:
    """The variants' bytes and SSIM, and whether AVIF is no larger than WebP at no
    lower SSIM (the issue's "no more bytes than WebP for the same quality")."""
    lines = ["| 1 MP photo, default settings | bytes | SSIM (luminance) |",
             "|---|---:|---:|"]
    lines += [f"| .{e.ext} | {e.size:,} | {e.ssim:.4f} |" for e in encoded]
    by_ext = {e.ext: e for e in encoded}
    if {"webp", "avif"} <= by_ext.keys():
        webp, avif = by_ext["webp"], by_ext["avif"]
        met = avif.size <= webp.size and avif.ssim >= webp.ssim
        lines += ["", f"AVIF at no more bytes than WebP ({avif.size / webp.size:.2f}x) "
                      f"and no lower SSIM ({avif.ssim - webp.ssim:+.4f}): "
                      f"{'yes' if met else 'NO'}"]
    return lines


def table(results: list[Result]) -> list[str]:
    """The Markdown table of ``results``, a line each."""
    lines = ["| scenario | req/s (2xx) | p50 ms | p99 ms | RSS MiB | non-2xx |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        rate = _cell(r.rps) if r.rps is None or r.rps < 100 else f"{r.rps:,.0f}"
        cells = [rate, _cell(r.p50), _cell(r.p99), _cell(r.rss_mib), str(r.errors)]
        each = ", ".join(f"{value:,.0f}" for value in r.rounds)
        redone = f"; {r.again} run again, lopsided" if r.again else ""
        rounds = f" (rounds: {each}{redone})" if r.rounds else ""
        lines.append(f"| {r.name}{rounds} | " + " | ".join(cells) + " |")
    return lines


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def ratios(results: list[Result], workers: int) -> list[Ratio]:
    """Each target of the issue whose two rows ``results`` has, measured: no value
    when the baseline served nothing (a run too short for its slowest requests),
    invalid when either side was answered non-2xx."""
    # The per-request targets from the side-by-side medians (side_by_side.py).
    side = SIDE_BY_SIDE
    pairs = [(ours + side, baseline + side, goal) for ours, baseline, goal in (
        ("GET original 1 MP", "bare Flask send_file", 0.9),
        ("warm variant (WebP, cached)", "bare Flask send_file", 0.9),
        ("upload 1 MP JPEG", "bare Flask upload, Pillow verify", 0.6),
        ("upload 1 MP JPEG, raw body", "bare Flask upload, Pillow verify", 0.6),
        ("upload 1 MP JPEG, raw body", "bare Flask upload, Pillow verify, raw body",
         0.6),
        ("upload 1 MP JPEG, raw body", BARE_STORE, None),
        (BARE_STORE, "bare Flask upload, Pillow verify, raw body", None),
    )]
    pairs.append(("warm variant (WebP, cached)", "GET original 1 MP", 0.8))
    pairs += [(f"cold conversion to {ext} (cache off)",
               f"Pillow alone, {workers} processes: {fmt}", 0.9)
              for ext, fmt in COLD_FORMATS]
    pairs += [
        ("cold conversion to avif (cache off)", "cold conversion to webp (cache off)",
         0.5),
        ("behind nginx: GET original (X-Accel-Redirect)", "nginx static file", 0.8),
        ("behind nginx: GET original (nginx cache)", "nginx static file", 0.8),
        ("behind nginx: warm variant (nginx cache)",
         "nginx static file (the WebP variant)", 0.8),
        ("cold conversion to webp (cache off)", "thumbor: cold WebP", 2),
        ("cold thumbnail 256 px JPEG (cache off)", "thumbor: cold thumbnail 256 px", 2),
    ]
    rows = {r.name: r for r in results}
    measured = []
    for ours, baseline, goal in pairs:
        if ours in rows and baseline in rows:
            mine, theirs = rows[ours], rows[baseline]
            value = mine.rps / theirs.rps if theirs.rps else None
            measured.append(Ratio(ours, baseline, goal, value,
                                  mine.errors + theirs.errors))
    return measured


def main() -> None:
    """Run everything in a temporary folder and print the report."""
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="progimage-bench-") as folder:
        loads = LoadLog()
        results, rates, workers, encoded = run(Path(folder), loads)
    load = f"{before:.1f} / {os.getloadavg()[0]:.1f}"
    text = report(results, rates, workers, load, loads, encoded)
    print(text)
    out = ROOT / "reports" / "benchmark.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    (ROOT / "reports" / "benchmark.json").write_text(
        json.dumps([r.__dict__ for r in results], indent=1)
    )


if __name__ == "__main__":
    main()
