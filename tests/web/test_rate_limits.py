"""Per-client rate limits: uploads, conversions (cache misses only) and reads each
counted apart, by API key or else by address; 429 problem+json with Retry-After and
the RateLimit headers, and a client recovers once its window has passed."""

import io
import json
import logging
import zipfile
from dataclasses import replace

import pytest

from helpers import decode, make_image, upload, wait_until
from loopback import serve
from progimage.config import Settings, SettingsError
from progimage.web.ratelimits import EXTENSION


@pytest.fixture(name="limited")
def _limited(app_factory, settings):
    """A test client of an app built with ``settings`` changed as given."""
    def build(**changes):
        return app_factory(replace(settings, **changes)).test_client()
    return build


def stored(client, **headers) -> str:
    response = upload(client, make_image("PNG", size=(64, 48)), headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def read(client, path: str, **headers):
    """GET ``path``; the response, read and closed (its file with it)."""
    with client.get(path, headers=headers) as response:
        response.get_data()
    return response


def assert_limited(response, what: str, amount: int, window: int = 60) -> None:
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert f"too many {what}: the limit is {amount} per" in detail
    assert response.headers["RateLimit-Limit"] == str(amount)
    assert response.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(response.headers["Retry-After"]) <= window
    assert response.headers["RateLimit-Reset"] == response.headers["Retry-After"]


def test_reads_are_limited_then_recover(limited):
    client = limited(rate_limit_reads="2 per 3 seconds")
    ref = stored(client)
    budgets = []
    for _ in range(2):
        response = read(client, f"/storage/{ref}")
        assert response.status_code == 200
        budgets.append(response.headers["RateLimit-Remaining"])
    assert budgets == ["1", "0"]
    assert_limited(read(client, f"/storage/{ref}/info"), "reads", 2, window=3)
    # Once the window has passed, the client reads again (fixed windows: the
    # refused requests above do not push it back).
    wait_until(lambda: read(client, f"/storage/{ref}").status_code == 200,
               "the read limit's window to pass")


def test_only_conversions_actually_started_count(limited):
    client = limited(rate_limit_conversions="1/minute")
    ref = stored(client)
    first = read(client, f"/storage/{ref}.png?w=32")
    assert first.status_code == 200
    assert decode(first.data).size == (32, 24)
    assert first.headers["RateLimit-Remaining"] == "0"
    # The same variant again is a cache hit, and the original no conversion.
    assert read(client, f"/storage/{ref}.png?w=32").status_code == 200
    assert read(client, f"/storage/{ref}").status_code == 200
    assert_limited(read(client, f"/storage/{ref}.png?w=16"), "new conversions", 1)
    assert_limited(client.post("/process.png", data=make_image()),
                   "new conversions", 1)


def test_uploads_are_counted_apart_from_reads(limited):
    client = limited(rate_limit_uploads="1/minute", rate_limit_reads="5/minute")
    ref = stored(client)
    assert_limited(upload(client, make_image()), "uploads", 1)
    response = read(client, f"/storage/{ref}")
    assert response.status_code == 200
    assert response.headers["RateLimit-Remaining"] == "4"


def test_each_valid_api_key_has_its_own_budget(limited):
    client = limited(api_keys="alpha,beta", rate_limit_uploads="1/minute")
    stored(client, Authorization="Bearer alpha")
    assert_limited(upload(client, make_image(), headers={
        "Authorization": "Bearer alpha"}), "uploads", 1)
    stored(client, Authorization="Bearer beta")


def test_made_up_keys_count_as_the_address(limited):
    """Reads are open: a new made-up key on each read must not buy a new budget."""
    client = limited(api_keys="alpha", rate_limit_reads="1/minute")
    ref = stored(client, Authorization="Bearer alpha")
    made_up = [{"Authorization": f"Bearer guess-{number}"} for number in range(2)]
    assert read(client, f"/storage/{ref}", **made_up[0]).status_code == 200
    assert_limited(read(client, f"/storage/{ref}", **made_up[1]), "reads", 1)


def test_addresses_behind_a_trusted_proxy_are_counted_apart(limited):
    client = limited(trusted_proxies=1, rate_limit_reads="1/minute")
    ref = stored(client)
    first = {"X-Forwarded-For": "203.0.113.7"}
    assert read(client, f"/storage/{ref}", **first).status_code == 200
    assert_limited(read(client, f"/storage/{ref}", **first), "reads", 1)
    other = {"X-Forwarded-For": "198.51.100.9"}
    assert read(client, f"/storage/{ref}", **other).status_code == 200


def test_unlimited_answers_carry_no_budget(client):
    ref = stored(client)
    assert "RateLimit-Limit" not in read(client, f"/storage/{ref}").headers


def test_an_unreachable_redis_limits_nothing_and_says_so(limited, caplog):
    # A port that was just free: nothing listens there any more.
    with serve(lambda handler: None) as url:
        port = url.rsplit(":", 1)[1]
    client = limited(rate_limit_reads="1/minute",
                     rate_limit_storage=f"redis://127.0.0.1:{port}")
    ref = stored(client)
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            assert read(client, f"/storage/{ref}").status_code == 200
    assert "rate limit storage unreachable, not limiting" in caplog.text


@pytest.mark.parametrize("changes, message", [
    ({"rate_limit_reads": "lots"}, "PROGIMAGE_RATE_LIMIT_READS must be like"),
    ({"rate_limit_uploads": "5/fortnight"}, "PROGIMAGE_RATE_LIMIT_UPLOADS must be"),
    ({"rate_limit_storage": "memcached://x"}, "PROGIMAGE_RATE_LIMIT_STORAGE must be"),
])
def test_bad_limit_settings_stop_the_start(changes, message):
    with pytest.raises(SettingsError, match=message):
        Settings(**changes)


def test_memory_counts_expire_with_their_window(app_factory, settings):
    """Many clients leave no counters behind once their window has passed: each
    count sweeps the expired ones out (``limits``' timer), so the in-memory storage
    holds only the clients of the current window."""
    app = app_factory(replace(settings, trusted_proxies=1,
                              rate_limit_reads="5 per 1 second"))
    client = app.test_client()
    ref = stored(client)
    for number in range(40):
        read(client, f"/storage/{ref}", **{"X-Forwarded-For": f"192.0.2.{number}"})
    counts = app.extensions[EXTENSION].counter.storage.storage
    assert len(counts) == 40

    def swept() -> bool:
        read(client, f"/storage/{ref}", **{"X-Forwarded-For": "198.51.100.1"})
        return len(counts) == 1

    wait_until(swept, "the expired counters to go")


def test_bulk_entries_count_as_conversions(limited):
    """A bulk read is no way around the limits: past them its entries fail with 429
    in the manifest."""
    client = limited(rate_limit_conversions="2/minute")
    refs = [stored(client) for _ in range(3)]
    response = client.post("/storage/bulk", json={
        "refs": refs, "ext": "webp", "options": {"w": 20}})
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert [entry["status"] for entry in manifest] == [200, 200, 429]
    assert "too many new conversions" in manifest[2]["detail"]
