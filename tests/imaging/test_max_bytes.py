"""max_bytes=N through HTTP: the size of the answer, X-Quality, and the refusals."""

import logging
import random

import pytest
from PIL import Image

from helpers import decode, encode
from progimage.options import parse

# The default qualities (config.py): the ceiling without q.
DEFAULT_QUALITY = {"jpg": 85, "webp": 80, "avif": 60}


@pytest.fixture(name="photo")
def _photo(store) -> str:
    """A 160x120 image of noise: its size falls steadily with the quality."""
    noise = random.Random(18)
    image = Image.frombytes("RGB", (160, 120), noise.randbytes(160 * 120 * 3))
    return store(encode(image.resize((320, 240)).resize((160, 120))))


def size_at(client, path: str) -> int:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(response.data)


@pytest.mark.parametrize("extension", ["jpg", "webp", "avif"])
def test_highest_quality_that_fits(client, photo, extension):
    """The answer is at most N bytes, X-Quality names its quality, and one quality
    more would not have fitted."""
    path = f"/storage/{photo}.{extension}"
    limit = size_at(client, path) // 2
    response = client.get(f"{path}?max_bytes={limit}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.data) <= limit
    quality = int(response.headers["X-Quality"])
    assert 1 <= quality < DEFAULT_QUALITY[extension]
    assert decode(response.data).size == (160, 120)
    assert len(response.data) == size_at(client, f"{path}?q={quality}")
    assert size_at(client, f"{path}?q={quality + 1}") > limit


def test_tighter_limit_lowers_the_quality(client, photo):
    path = f"/storage/{photo}.jpg"
    full = size_at(client, path)
    loose = client.get(f"{path}?max_bytes={full * 2 // 3}").headers["X-Quality"]
    tight = client.get(f"{path}?max_bytes={full // 3}").headers["X-Quality"]
    assert int(tight) < int(loose) < 85


@pytest.mark.parametrize("query, quality", [("", "85"), ("&q=40", "40")])
def test_a_loose_limit_keeps_q_or_the_default(client, photo, query, quality):
    """The search starts at q, else the format's default, and stops there if it
    fits: max_bytes never raises the quality."""
    response = client.get(f"/storage/{photo}.jpg?max_bytes=10000000{query}")
    assert response.headers["X-Quality"] == quality


def test_nothing_fits_is_422(client, photo):
    response = client.get(f"/storage/{photo}.jpg?max_bytes=300")
    assert response.status_code == 422
    assert "parameter 'max_bytes': even at quality 1" in response.get_json()["detail"]


@pytest.mark.parametrize("query, detail", [
    ("png?max_bytes=5000", "parameter 'max_bytes': only for formats with a quality"),
    ("gif?max_bytes=5000", "not GIF"),
    ("webp?max_bytes=5000&lossless", "not with lossless"),
    ("jpg?max_bytes=0", "parameter 'max_bytes': must be a whole number"),
])
def test_lossless_targets_are_400(client, photo, query, detail):
    response = client.get(f"/storage/{photo}.{query}")
    assert response.status_code == 400
    assert detail in response.get_json()["detail"]


def test_cached_answer_keeps_its_quality(client, photo, caplog):
    """The second answer comes from the variant cache, with the same bytes and
    X-Quality; no conversion runs for it."""
    caplog.set_level(logging.INFO, logger="progimage.service")
    path = f"/storage/{photo}.jpg?max_bytes=3000"
    answers = []
    for _ in range(2):
        with client.get(path) as response:
            answers.append((response.data, response.headers["X-Quality"]))
    converted = [r for r in caplog.records if r.getMessage().startswith("converted")]
    assert len(converted) == 1
    assert answers[1] == answers[0]


def test_no_header_without_max_bytes(client, photo):
    assert "X-Quality" not in client.get(f"/storage/{photo}.jpg?q=50").headers


def test_process_answers_the_quality(client):
    """POST /process takes max_bytes too, and says the quality."""
    noise = random.Random(3)
    body = encode(Image.frombytes("RGB", (80, 60), noise.randbytes(80 * 60 * 3)))
    response = client.post("/process.jpg?max_bytes=4000", data=body,
                           content_type="image/png")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.data) <= 4000 and int(response.headers["X-Quality"]) < 85


def test_a_variant_whose_quality_was_evicted_converts_again(app, client, photo):
    """Without the quality kept beside it, a cached variant is made again, so that
    its answer still names the quality."""
    path = f"/storage/{photo}.jpg?max_bytes=3000"
    with client.get(path) as response:
        quality = response.headers["X-Quality"]
    service = app.extensions["progimage"]
    found = service.resolve(photo, "jpg", service_options("max_bytes=3000"))
    service.cache.path(photo, found.key + "#quality").unlink()
    with client.get(path) as response:
        assert response.headers["X-Quality"] == quality


def service_options(query: str):
    name, _, value = query.partition("=")
    return parse({name: [value]})
