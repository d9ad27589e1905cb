"""gunicorn settings for ProgImage, used by `make run` and in production.

HOST and PORT choose where to listen (127.0.0.1:5000 by default).
"""

import multiprocessing
import os

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
accesslog = "-"
