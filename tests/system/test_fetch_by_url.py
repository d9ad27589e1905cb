"""Uploads by URL through real gunicorn, with the client and the command."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import decode, make_image
from live_servers import Gunicorn
from loopback import answer, serve
from progimage.client import Client, ProgImageError

PROGIMAGE = str(Path(sys.executable).with_name("progimage"))
PNG = make_image("PNG", (32, 24))


def png(request):
    answer(request, 200, PNG, "image/png")


@pytest.fixture(name="fetching_server", scope="module")
def _fetching_server(tmp_path_factory):
    """A gunicorn allowed to fetch from 127.0.0.1, on purpose; its URL."""
    folder = tmp_path_factory.mktemp("fetching")
    server = Gunicorn(folder, {
        "PROGIMAGE_STORAGE": str(folder / "data"),
        "PROGIMAGE_FETCH_ALLOWED_HOSTS": "127.0.0.1",
    }, workers=1).start()
    yield server.url
    server.stop()


def test_the_client_stores_a_url(fetching_server):
    with serve(png) as remote, Client(fetching_server) as images:
        ref = images.put_url(f"{remote}/a.png")
        assert images.get(ref) == PNG
        assert images.info(ref)["source_url"] == f"{remote}/a.png"
        assert decode(images.get(ref, "webp")).size == (32, 24)


def test_the_command_uploads_a_url(fetching_server):
    with serve(png) as remote:
        result = subprocess.run(
            [PROGIMAGE, "--url", fetching_server, "upload", f"{remote}/b.png"],
            capture_output=True, timeout=60, env=dict(os.environ), text=True,
        )
    assert (result.returncode, result.stderr) == (0, "")
    with Client(fetching_server) as images:
        assert images.get(result.stdout.strip()) == PNG


def test_by_default_the_server_refuses_loopback(live_server):
    with serve(png) as remote, Client(live_server) as images:
        with pytest.raises(ProgImageError) as refused:
            images.put_url(f"{remote}/a.png")
    assert (refused.value.status, refused.value.detail) == (
        400, "127.0.0.1 is a loopback address; it is not fetched"
    )
