"""Made-up methods and paths at full size: the metrics must not grow with them.

REQUESTS requests with random method names and random paths go to a gunicorn with the
shipped settings (the attack that once grew the metrics files from 1.3 to 84 MB and
made ``/metrics`` a 40 MB, 9.8 s answer). Fails (exit 1) if ``/metrics`` grows past
MAX_BYTES or takes a second or more. Run from the repository:
``.venv/bin/python tests/attack/metric_labels.py``.
"""

import http.client
import random
import string
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from live_servers import Gunicorn  # noqa: E402

REQUESTS = 21_050
# Every route x known method x status, with histograms: tens of kB, not megabytes.
MAX_BYTES = 200_000


def probe(address: tuple[str, int], count: int) -> None:
    """``count`` requests, each with a random method and path, on one connection."""
    connection = http.client.HTTPConnection(*address, timeout=10)
    for _ in range(count):
        method = "".join(random.choices(string.ascii_uppercase, k=8))
        path = "/" + "".join(random.choices(string.ascii_lowercase, k=12))
        connection.request(method, path)
        connection.getresponse().read()
    connection.close()


def main() -> int:
    """Send the requests, then time and measure ``/metrics``; 1 if it grew."""
    folder = Path(tempfile.mkdtemp(prefix="metric-labels-"))
    with Gunicorn(folder, {"PROGIMAGE_STORAGE": str(folder / "data")}) as server:
        parts = urlsplit(server.url)
        address = (parts.hostname, parts.port)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(probe, [address] * 50, [REQUESTS // 50] * 50))
        started = time.monotonic()
        connection = http.client.HTTPConnection(*address, timeout=30)
        connection.request("GET", "/metrics")
        body = connection.getresponse().read()
        took = time.monotonic() - started
    print(f"/metrics after {REQUESTS} made-up requests: {len(body)} bytes in "
          f"{took:.3f} s")
    return 1 if len(body) > MAX_BYTES or took >= 1 else 0


if __name__ == "__main__":
    sys.exit(main())
