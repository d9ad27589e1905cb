"""Eager variants through a real gunicorn: ready soon after the upload, then read
from the cache by whichever worker answers."""

import pytest
import requests

from helpers import decode, make_image, wait_until
from live_servers import Gunicorn

pytestmark = pytest.mark.system


def test_eager_presets_are_ready_after_an_upload(tmp_path):
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data"),
           "PROGIMAGE_PRESETS": "thumb=w:32,h:32,fit:cover",
           "PROGIMAGE_EAGER_PRESETS": "thumb.webp"}
    with Gunicorn(tmp_path, env) as server:
        store = f"{server.url}/storage/"
        ref = requests.put(store, files={"data": make_image("PNG", (96, 64))},
                           timeout=30).text

        def ready() -> bool:
            info = requests.get(f"{store}{ref}/info", timeout=30).json()
            return info["eager"] == {"thumb.webp": True}

        wait_until(ready, "the eager thumbnail")
        thumb = requests.get(f"{store}{ref}.webp?preset=thumb", timeout=30)
        log = server.output()
    assert decode(thumb.content).size == (32, 32)
    assert log.count("converted") == 1, log
