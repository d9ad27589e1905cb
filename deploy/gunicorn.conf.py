"""gunicorn settings for ProgImage, used by `make run`, `progimage serve` (which ships
them as progimage/gunicorn.conf.py) and in production.

HOST and PORT choose where to listen (127.0.0.1:5000 by default).
"""

import multiprocessing
import os
import shutil
import sys
import tempfile

# Workers write their metrics to files here, so /metrics can add up all of them. It
# must be set before anything imports prometheus_client (this file imports
# progimage below), hence first, at load time.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="progimage-")


# A bad PROGIMAGE_* setting or a missing bucket: one line and exit status 1 here, once,
# rather than a traceback from every worker. After the metrics folder is chosen: the
# check imports progimage, and with it prometheus_client.
from progimage.startup import settings_problem  # noqa: E402

if _problem := settings_problem():
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    sys.exit(f"progimage: {_problem}")


def _admitted() -> int:
    """Conversions a worker lets in at once (the settings passed the check above)."""
    from progimage.config import Settings

    settings = Settings.from_env()
    return settings.convert_workers + settings.convert_waiting


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# Conversions are CPU-bound: one process per core, threads to overlap disk and network.
# Measured with wrk runs on 2 cores (docs/benchmarks.md): gthread 2x4,
# sync x2, gthread 4x2 and gthread 2x16 serve originals and cold conversions within
# the noise of each other (the kernel's sendfile and Pillow's encoders, which release
# the GIL, do the work), but sync workers block on a slow client, and 16 threads
# held 188 MiB per worker in concurrent decodes against 82 MiB for 4 (decodes then ran
# in the worker; they run in converter processes now, admitted a few at a time).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gthread"
# A worker lets in PROGIMAGE_CONVERT_WORKERS + PROGIMAGE_CONVERT_QUEUE conversions at
# once (2 + 2 by default) and answers 503 beyond. With no more threads than that,
# conversions took every thread: probes waited in gunicorn's queue, and so did further
# conversions, past any time limit. So 4 threads more than that, kept for probes,
# originals and cached variants. Their cost, measured with 32 conversions of a 12 MP
# JPEG, 32 originals and 32 probes at once on 2 workers: 110-115 MiB peak per worker
# with 8 threads, 103-115 MiB with 4; idle 68-73 MiB either way.
threads = _admitted() + 4
timeout = 60
graceful_timeout = 30
# Recycle workers now and then, against slow memory growth. A new worker spends about
# a second building the app (Pillow's format probe), so at 2,000 requests a worker
# restarted every second or two under load and cost up to half the CPU: 100,000.
max_requests = 100_000
max_requests_jitter = 10_000
# The app logs one line per request itself (with the request id, as JSON if asked).
accesslog = None
# gunicorn's control socket (for gunicornc) defaults to one path per user,
# ~/.gunicorn/gunicorn.ctl: a second instance on the host took over the first one's
# socket, and stopping either deleted it. None, unless GUNICORN_CONTROL_SOCKET names a
# path for this instance alone.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


def on_starting(server: object) -> None:
    """Start from zero: samples left by an earlier run would be added up too."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def child_exit(server: object, worker: object) -> None:
    """Let the metrics of a finished worker stop counting as live."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: object) -> None:
    """Remove the metrics folder if this configuration made it."""
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
