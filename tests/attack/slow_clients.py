"""How many slow clients gunicorn alone (``make run``'s settings) withstands.

Opens more and more connections that send one header line every 2 s, and times
``/healthz`` after each step; stops at the first count where it takes over a second
(or at MAX_SOCKETS). Loopback only; every loop is bounded. Run from the repository:
``.venv/bin/python tests/attack/slow_clients.py``.
"""

import contextlib
import socket
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from live_servers import Gunicorn  # noqa: E402

STEP = 2
MAX_SOCKETS = 64
TRICKLE = 2.0
PROBE_LIMIT = 1.0


def probe(url: str) -> float:
    """Seconds /healthz takes (PROBE_LIMIT * 3 when it does not answer by then)."""
    started = time.monotonic()
    try:
        requests.get(f"{url}/healthz", timeout=PROBE_LIMIT * 3)
    except requests.Timeout:
        return PROBE_LIMIT * 3
    return time.monotonic() - started


def main() -> int:
    """Print /healthz's time per count of slow sockets; 0 once it is measured."""
    folder = Path(tempfile.mkdtemp(prefix="slow-clients-"))
    with Gunicorn(folder, {"PROGIMAGE_STORAGE": str(folder / "data")}) as server, \
            contextlib.ExitStack() as sockets:
        host, port = "127.0.0.1", server.port
        slow: list[socket.socket] = []
        while len(slow) < MAX_SOCKETS:
            for _ in range(STEP):
                client = sockets.enter_context(socket.create_connection((host, port)))
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                slow.append(client)
            # One trickle, so that every new socket has been taken by a thread.
            time.sleep(TRICKLE)
            for client in slow:
                with contextlib.suppress(OSError):
                    client.sendall(b"X-Slow: 1\r\n")
            took = probe(server.url)
            print(f"{len(slow):3d} slow sockets: /healthz {took:.2f} s", flush=True)
            if took > PROBE_LIMIT:
                print(f"gunicorn alone withstands {len(slow) - STEP} slow sockets")
                return 0
    print(f"gunicorn alone withstood {MAX_SOCKETS} slow sockets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
