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
# progimage below), hence first, at load time. Its name carries the master's pid, so
# that a later start can tell the folder of a master killed with -9 (on_exit never
# ran) from the folder of one still running.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
METRICS_PREFIX = "progimage-metrics-"
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix=f"{METRICS_PREFIX}{os.getpid()}-"
    )


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
    """Start from zero: samples left by an earlier run would be added up too; and
    remove the folders that killed masters left."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if _OWN_METRICS_DIR:
        _remove_orphaned(os.path.dirname(folder))
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def _remove_orphaned(parent: str) -> None:
    """Remove the metrics folders under ``parent`` whose master is gone."""
    for name in os.listdir(parent):
        pid = name.removeprefix(METRICS_PREFIX).partition("-")[0]
        if name.startswith(METRICS_PREFIX) and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def child_exit(server: object, worker: object) -> None:
    """Fold the metrics of a finished worker (recycled, crashed or killed with -9)
    into the folder's archive, so that its files go and /metrics still adds up."""
    from prometheus_client import multiprocess

    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    multiprocess.mark_process_dead(worker.pid, folder)
    for kind in FOLDED_KINDS:
        _fold(os.path.join(folder, f"{kind}_{worker.pid}.db"),
              os.path.join(folder, f"{kind}_{ARCHIVE}.db"))


# The metric files that add up across processes: a dead worker's values are added to
# <kind>_archive.db (prometheus_client reads the kind from the name, and the pid only
# for gauges, which ProgImage does not use), and its file is removed. Without this,
# every worker that ever ran leaves its files, and /metrics reads them all forever.
FOLDED_KINDS = ("counter", "histogram", "summary")
ARCHIVE = "archive"


def _fold(dead: str, archive: str) -> None:
    """Add every value of the file ``dead`` to ``archive``, then remove ``dead``.

    Only the master writes archives, one worker at a time. A scrape in the moment
    between the two steps counts the dead worker twice; the scrape lists the
    files again if one goes between its listing and its reading (metrics.py).
    """
    from prometheus_client.mmap_dict import MmapedDict

    if not os.path.exists(dead):
        return
    total = MmapedDict(archive)
    try:
        for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(dead):
            before, _ = total.read_value(key)
            total.write_value(key, before + value, timestamp)
    finally:
        total.close()
    os.remove(dead)


def on_exit(server: object) -> None:
    """Remove the metrics folder if this configuration made it."""
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
