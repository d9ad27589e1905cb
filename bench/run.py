"""`make bench`: ProgImage against its limits, on loopback, bounded in time.

Starts every server itself (gunicorn with deploy/gunicorn.conf.py, nginx with
deploy/nginx.conf, a static-file nginx, and thumbor when it is installed: see
thumbor_server.py), drives each with wrk (16 connections,
BENCH_SECONDS seconds, default 8) and prints a Markdown table of req/s, p50/p99 latency
and the largest worker RSS, then the ratios the performance targets are stated in.
The test images are generated, so every run measures the same bytes.
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
import time
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
# The Accept header of the .auto rows: WebP, so that they compare with the WebP ones.
WEBP_ONLY = "image/webp"
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
STATIC_SITE = """
server {{
    listen 8080;
    sendfile on;
    location / {{ root {root}; }}
}}
"""
UPLOAD_SCRIPT = """
local file = io.open("{body}", "rb")
wrk.method = "PUT"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "{content_type}"
"""
BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"


@dataclass
class Result:
    """One wrk run (or an in-process measurement, without latency and RSS)."""

    name: str
    rps: float
    p50: float | None = None
    p99: float | None = None
    rss_mib: float | None = None
    errors: int = 0


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
    """The upload check of ``data`` in one process, without and with the
    placeholder (bench/placeholders.py), as checks per second."""
    off, on = placeholders.check_ms(data, FormatRegistry.from_pillow())
    return [Result("upload check 1 MP JPEG, one process: no placeholder", 1000 / off),
            Result("upload check 1 MP JPEG, one process: with placeholder",
                   1000 / on)]


def wrk(
    name: str, url: str, server: Gunicorn | None, script: Path | None = None,
    accept: str = "", connections: int = CONNECTIONS,
) -> Result:
    """Run wrk against ``url`` (with an ``accept`` header if given); RSS is the
    largest of the server's workers after."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--latency",
               "--timeout", "30s", url]
    if accept:
        command[1:1] = ["-H", f"Accept: {accept}"]
    if script:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    rss = max(_rss(server.workers()) if server else [0]) / 1024
    return Result(
        name, float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        _ms(latency["50"]), _ms(latency["99"]), rss or None,
        int(errors.group(1)) if errors else 0,
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
    for fmt in ("WEBP", "PNG", "JPEG"):
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


def multipart(data: bytes, folder: Path) -> Path:
    """A wrk script that uploads ``data`` as the multipart field ``data``."""
    body = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"data\"; "
        f"filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    ).encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    return _upload_script(
        folder, "multipart", body, f"multipart/form-data; boundary={BOUNDARY}"
    )


def raw(data: bytes, folder: Path) -> Path:
    """A wrk script that uploads ``data`` as the body, ``Content-Type: image/jpeg``."""
    return _upload_script(folder, "raw", data, "image/jpeg")


def _upload_script(folder: Path, name: str, body: bytes, content_type: str) -> Path:
    body_path = folder / f"upload-{name}.body"  # read by the wrk script
    body_path.write_bytes(body)
    script = folder / f"upload-{name}.lua"
    script.write_text(UPLOAD_SCRIPT.format(body=body_path, content_type=content_type))
    return script


def run(folder: Path) -> tuple[list[Result], dict, int]:
    """Every scenario; returns the results, Pillow's rates and the worker count."""
    small, large = photo(1155, 866), photo(4000, 3000)
    (folder / "static").mkdir()
    (folder / "static" / "photo.jpg").write_bytes(small)
    results = []
    storage = folder / "data"
    env = {"PROGIMAGE_STORAGE": str(storage)}
    with Gunicorn(folder, env, workers=WORKERS) as server:
        workers = len(server.workers())
        refs = [upload(server.url, data) for data in (small, large)]
        base = f"{server.url}/storage"
        results.append(wrk("GET original 1 MP", f"{base}/{refs[0]}", server))
        results.append(wrk("GET original 12 MP", f"{base}/{refs[1]}", server))
        variant = requests.get(f"{base}/{refs[0]}.webp", timeout=60)
        variant.raise_for_status()
        (folder / "static" / "photo.webp").write_bytes(variant.content)
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
    off = {**env, "PROGIMAGE_CACHE_MAX_BYTES": "0"}
    with Gunicorn(folder, off, workers=WORKERS) as server:
        for ext, fmt in (("webp", "WEBP"), ("png", "PNG"), ("jpg", "JPEG")):
            before = parallel_rate(small, fmt, workers)
            results.append(wrk(f"cold conversion to {ext} (cache off)",
                               f"{server.url}/storage/{refs[0]}.{ext}",
                               server))
            # Measured just before and after, so that it saw the same machine load.
            ceiling = (before + parallel_rate(small, fmt, workers)) / 2
            results.append(Result(f"Pillow alone, {workers} processes: {fmt}", ceiling))
        results.append(wrk("cold thumbnail 256 px JPEG (cache off)",
                           f"{server.url}/storage/{refs[0]}.jpg?w=256", server))
        results.append(wrk("cold .auto -> WebP (cache off)",
                           f"{server.url}/storage/{refs[0]}.auto", server,
                           accept=WEBP_ONLY))
    results += placeholder_rows(small)
    if thumbor_server.available():
        results += against_thumbor(folder, workers)
    bare = {"BENCH_FILE": str(folder / "static" / "photo.jpg")}
    bare_app = "bare_app:create_app()"
    path = ("--pythonpath", str(ROOT / "bench"), "--preload")
    with Gunicorn(folder, bare, *path, workers=WORKERS, app=bare_app) as server:
        results.append(wrk("bare Flask send_file", f"{server.url}/file",
                           server))
        results.append(wrk("bare Flask upload, Pillow verify", f"{server.url}/upload",
                           server, multipart(small, folder)))
        results.append(wrk("bare Flask upload, Pillow verify, raw body",
                           f"{server.url}/upload", server, raw(small, folder)))
    with nginx(folder / "nginx-static",
               STATIC_SITE.format(root=folder / "static")) as url:
        results.append(wrk("nginx static file", f"{url}/photo.jpg", None))
        results.append(wrk("nginx static file (the WebP variant)",
                           f"{url}/photo.webp", None))
    results += behind_nginx(folder, storage, refs[0])
    return results, pillow_rates(small), workers


def against_thumbor(folder: Path, workers: int) -> list[Result]:
    """thumbor (Pillow too) on the same photo, one process per core, cold and with
    its result storage."""
    results = []
    images = folder / "static"
    with thumbor_server.thumbor(folder / "thumbor", images, workers) as url:
        for name, path in (("WebP", "filters:format(webp)/photo.jpg"),
                           ("thumbnail 256 px", "256x0/photo.jpg")):
            results.append(wrk(f"thumbor: cold {name}", f"{url}/unsafe/{path}", None))
    with thumbor_server.thumbor(folder / "thumbor-results", images, workers,
                                result_storage=True) as url:
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


def report(results: list[Result], rates: dict, workers: int, load: str) -> str:
    """The Markdown table, Pillow's rates and the target ratios."""
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    lines = [
        f"Machine: {os.cpu_count()} CPUs, {cpu}; Python {platform.python_version()}, "
        f"Pillow {Image.__version__}; "
        f"wrk -t2 -c{CONNECTIONS} -d{SECONDS}s on loopback; {workers} gunicorn "
        "workers.",
        f"Load average (1 min) before and after the run: {load} (other work on the "
        "machine competes for the same cores).",
        "",
        "| scenario | req/s | p50 ms | p99 ms | worker RSS MiB | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cells = [f"{r.rps:,.0f}" if r.rps >= 100 else f"{r.rps:.1f}",
                 _cell(r.p50), _cell(r.p99), _cell(r.rss_mib), str(r.errors)]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    lines += ["", "| Pillow, one process, at the end | decode+encode /s | encode /s |",
              "|---|---:|---:|"]
    for fmt, (full, encode) in rates.items():
        lines.append(f"| {fmt} | {full:.1f} | {encode:.1f} |")
    lines += ["", "| target | ratio | goal | met |", "|---|---:|---:|---|"]
    for name, ratio, goal in ratios({r.name: r.rps for r in results}, workers):
        if ratio is None:
            lines.append(f"| {name} | n/a | >= {goal} | not measured |")
        else:
            lines.append(f"| {name} | {ratio:.2f} | >= {goal} | "
                         f"{'yes' if ratio >= goal else 'NO'} |")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def ratios(rps: dict[str, float], workers: int) -> list:
    """(target, measured ratio or None, goal) for each target of the issue; None when
    the baseline served nothing (a run too short for its slowest requests)."""
    pairs = [
        ("GET original 1 MP", "bare Flask send_file", 0.9),
        ("warm variant (WebP, cached)", "GET original 1 MP", 0.8),
        ("upload 1 MP JPEG", "bare Flask upload, Pillow verify", 0.6),
        ("upload 1 MP JPEG, raw body", "bare Flask upload, Pillow verify", 0.6),
        ("upload 1 MP JPEG, raw body", "bare Flask upload, Pillow verify, raw body",
         0.6),
    ]
    for ext, fmt in (("webp", "WEBP"), ("png", "PNG"), ("jpg", "JPEG")):
        pairs.append((f"cold conversion to {ext} (cache off)",
                      f"Pillow alone, {workers} processes: {fmt}", 0.9))
    pairs += [
        ("behind nginx: GET original (X-Accel-Redirect)", "nginx static file", 0.8),
        ("behind nginx: GET original (nginx cache)", "nginx static file", 0.8),
        ("behind nginx: warm variant (nginx cache)",
         "nginx static file (the WebP variant)", 0.8),
    ]
    if "thumbor: cold WebP" in rps:
        pairs += [
            ("cold conversion to webp (cache off)", "thumbor: cold WebP", 2),
            ("cold thumbnail 256 px JPEG (cache off)",
             "thumbor: cold thumbnail 256 px", 2),
        ]
    return [
        (f"{ours} / {baseline}", rps[ours] / rps[baseline] if rps[baseline] else None,
         goal)
        for ours, baseline, goal in pairs
    ]


def main() -> None:
    """Run everything in a temporary folder and print the report."""
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="progimage-bench-") as folder:
        results, rates, workers = run(Path(folder))
    load = f"{before:.1f} / {os.getloadavg()[0]:.1f}"
    text = report(results, rates, workers, load)
    print(text)
    out = ROOT / "reports" / "benchmark.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    (ROOT / "reports" / "benchmark.json").write_text(
        json.dumps([r.__dict__ for r in results], indent=1)
    )


if __name__ == "__main__":
    main()
