"""What the scale-out tests add to live_servers: moto's S3 server on loopback, and
deploy/nginx-scaleout.conf in front of given instances."""

import contextlib
import subprocess
import sys
from collections.abc import Iterator

from live_servers import ROOT, stop

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# moto's S3 in a process of its own, printing the port it got.
MOTO = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's S3 server; yield its URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )
    try:
        yield f"http://127.0.0.1:{int(process.stdout.readline())}"
    finally:
        process.stdin.close()
        stop(process)
        process.stdout.close()


def scaleout_site(ports: list[int]) -> str:
    """deploy/nginx-scaleout.conf in front of the instances on two loopback ports."""
    site = (ROOT / "deploy" / "nginx-scaleout.conf").read_text()
    for default, actual in zip(("8001", "8002"), ports, strict=True):
        site = site.replace(f"127.0.0.1:{default}", f"127.0.0.1:{actual}")
    return site
