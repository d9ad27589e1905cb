"""A full-size conversion storm against gunicorn with the shipped settings.

STORM concurrent cold conversions of a 12 MP JPEG (each a different width), with
``/healthz`` and the original timed meanwhile. Fails (exit 1) if an answer comes
later than the limit plus MARGIN, if a probe takes a second or more, or if no
request past the queue was refused. Loopback only; every loop is bounded. Run from
the repository: ``.venv/bin/python tests/attack/conversion_storm.py``.
"""

import io
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from live_servers import Gunicorn  # noqa: E402

STORM = 32
LIMIT = 30.0
# A converter's start may add up to 2 s (progimage.pool.START_GRACE), the answer 1 s.
MARGIN = 3.0


def noise_jpeg(size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A 12 MP JPEG of noise: as slow to decode and encode as photographs come."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def timed(url: str) -> tuple[float, int, str]:
    """Seconds, status and Retry-After of a GET of ``url``."""
    started = time.monotonic()
    response = requests.get(url, timeout=LIMIT * 3)
    took = time.monotonic() - started
    return took, response.status_code, response.headers.get("Retry-After", "")


def main() -> int:
    """Run the storm, print what came back; 1 if a promise was broken."""
    folder = Path(tempfile.mkdtemp(prefix="conversion-storm-"))
    env = {"PROGIMAGE_STORAGE": str(folder / "data"),
           "PROGIMAGE_CONVERT_TIMEOUT": str(LIMIT)}
    with Gunicorn(folder, env) as server:
        store = f"{server.url}/storage/"
        ref = requests.put(store, files={"data": noise_jpeg()}, timeout=120).text
        urls = [f"{store}{ref}.webp?w={3000 + n}" for n in range(STORM)]
        with ThreadPoolExecutor(STORM) as pool:
            storm = pool.map(timed, urls)
            time.sleep(1)  # let the storm reach the converters before probing
            probes = [timed(f"{server.url}/healthz"), timed(f"{store}{ref}")]
            answers = list(storm)
    for took, status, retry in sorted(answers):
        print(f"{status} in {took:6.2f} s (Retry-After {retry or '-'})")
    for took, status, _ in probes:
        print(f"probe {status} in {took:.3f} s")
    broken = [
        max(took for took, _, _ in answers) > LIMIT + MARGIN,
        any(took >= 1 or status != 200 for took, status, _ in probes),
        not any(retry == "5" for _, _, retry in answers),
    ]
    return 1 if any(broken) else 0


if __name__ == "__main__":
    sys.exit(main())
