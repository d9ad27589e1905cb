"""Rate limits over HTTP: two gunicorn instances count one client's reads in one
real Redis (started here on a free loopback port), so the limit holds across both,
and the client reads again once the window has passed."""

from collections.abc import Iterator

import pytest
import requests

from helpers import make_image, wait_until
from live_servers import Gunicorn, redis_server
from progimage.client import Client

LIMIT = 3
WINDOW = 4


@pytest.fixture(name="instances", scope="module")
def _instances(tmp_path_factory) -> Iterator[list[str]]:
    """Two instances over one storage folder, sharing their counts in Redis."""
    folder = tmp_path_factory.mktemp("limits")
    with redis_server(folder) as redis:
        env = {
            "PROGIMAGE_STORAGE": str(folder / "data"),
            "PROGIMAGE_RATE_LIMIT_READS": f"{LIMIT} per {WINDOW} seconds",
            "PROGIMAGE_RATE_LIMIT_STORAGE": redis,
        }
        with Gunicorn(folder, env, workers=1) as first, \
                Gunicorn(folder, env, workers=1) as second:
            yield [first.url, second.url]


def get(url: str) -> requests.Response:
    return requests.get(url, timeout=30)


def test_two_instances_share_one_read_limit(instances):
    first, second = instances
    with Client(first) as client:
        ref = client.put(make_image("PNG", size=(32, 24)))
    # Wait for a fresh window, so that all of this test's reads fall in one.
    wait_until(lambda: get(f"{second}/storage/{ref}").headers.get(
        "RateLimit-Remaining") == str(LIMIT - 1), "a fresh window")
    left = [get(f"{url}/storage/{ref}").headers["RateLimit-Remaining"]
            for url in (first, second)]
    assert left == [str(LIMIT - 2), str(LIMIT - 3)]
    refused = get(f"{first}/storage/{ref}")
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW
    assert refused.headers["RateLimit-Limit"] == str(LIMIT)
    assert get(f"{second}/storage/{ref}").status_code == 429
    wait_until(lambda: get(f"{first}/storage/{ref}").status_code == 200,
               "the shared window to pass")
