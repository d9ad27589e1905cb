"""gunicorn settings for ProgImage, used by `make run` and in production.

HOST and PORT choose where to listen (127.0.0.1:5000 by default).
"""

import multiprocessing
import os
import shutil
import tempfile

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# Conversions are CPU-bound: one process per core, threads to overlap disk and network.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = 4
timeout = 60
graceful_timeout = 30
# Recycle workers now and then, against slow memory growth.
max_requests = 2000
max_requests_jitter = 200
# The app logs one line per request itself (with the request id, as JSON if asked).
accesslog = None

# Workers write their metrics to files here, so /metrics can add up all of them. It
# must be set before any worker imports prometheus_client, hence here, at load time.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="progimage-")


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
