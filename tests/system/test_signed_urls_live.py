"""Signed reads through a real gunicorn: URLs from the Python client and from the
JavaScript signer are served; unsigned, tampered, expired and removed-key URLs are
refused with 403 saying why; originals stay open."""

import io
import json
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from helpers import decode, make_image
from live_servers import Gunicorn
from progimage.client import Client
from system_programs import require

NEW, OLD = "new-signing-key", "old-signing-key"
SIGNER = Path(__file__).resolve().parents[2] / "clients" / "js" / "progimage-sign.mjs"
NODE_SCRIPT = """
const [signer, base, key, name] = process.argv.slice(1);
const m = await import(signer);
console.log(m.signedUrl(base, key, name, {w: 24, fit: "cover", h: 24}));
"""


@pytest.fixture(name="server", scope="module")
def _server(tmp_path_factory) -> Iterator[str]:
    """Gunicorn requiring signatures for conversions, signing with NEW, still
    accepting OLD; its URL."""
    folder = tmp_path_factory.mktemp("signed")
    with Gunicorn(folder, {
        "PROGIMAGE_STORAGE": str(folder / "data"),
        "PROGIMAGE_SIGNING_KEYS": f"{NEW},{OLD}",
        "PROGIMAGE_SIGNED_READS": "variants",
    }, workers=1) as server:
        yield server.url


@pytest.fixture(name="ref", scope="module")
def _ref(server: str) -> str:
    with Client(server) as client:
        return client.put(make_image("PNG", size=(64, 48)))


def get(url: str) -> requests.Response:
    return requests.get(url, timeout=30)


def refused(response: requests.Response, reason: str) -> None:
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    assert reason in response.json()["detail"]


def test_signed_urls_are_served_others_refused(server, ref):
    signer = Client(server, signing_key=NEW)
    url = signer.url(ref, "webp", w=32)
    response = get(url)
    assert response.status_code == 200
    assert decode(response.content).size == (32, 24)
    # The client's own downloads are signed too.
    assert decode(signer.get(ref, "png", w=16)).size == (16, 12)
    refused(get(f"{server}/storage/{ref}.webp?w=32"), "needs a signature")
    refused(get(url.replace("w=32", "w=320")), "does not match")
    refused(get(Client(server, signing_key="removed").url(ref, "webp", w=32)),
            "does not match")


def test_an_old_key_still_verifies(server, ref):
    response = get(Client(server, signing_key=OLD).url(ref, "webp", w=40))
    assert response.status_code == 200
    assert decode(response.content).size == (40, 30)


def test_expired_urls_are_refused(server, ref):
    signer = Client(server, signing_key=NEW)
    refused(get(signer.url(ref, "webp", int(time.time()) - 1, w=32)), "expired")
    live = get(signer.url(ref, "webp", int(time.time()) + 300, w=32))
    assert live.status_code == 200
    assert live.headers["Cache-Control"].startswith("public, max-age=")


def test_originals_stay_open(server, ref):
    response = get(f"{server}/storage/{ref}")
    assert response.status_code == 200
    assert decode(response.content).size == (64, 48)


def test_the_javascript_signer_makes_urls_the_server_serves(server, ref):
    done = subprocess.run(
        [require("node"), "--input-type=module", "-e", NODE_SCRIPT, SIGNER.as_uri(),
         server, NEW, f"{ref}.png"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    response = get(done.stdout.strip())
    assert response.status_code == 200
    assert decode(response.content).size == (24, 24)


def test_bulk_entries_signed_by_the_client_are_read(server, ref):
    """The client signs each bulk entry with its key; without one they are refused."""
    entries = [{"ref": ref, "ext": "webp", "options": {"w": 16}}]
    statuses = []
    for client in (Client(server, signing_key=NEW), Client(server)):
        buffer = io.BytesIO()
        with client:
            client.bulk(buffer, entries)
        with zipfile.ZipFile(buffer) as archive:
            statuses.append(json.loads(archive.read("manifest.json"))[0]["status"])
            if statuses == [200]:
                assert decode(archive.read(f"{ref}.webp")).size == (16, 12)
    assert statuses == [200, 403]
