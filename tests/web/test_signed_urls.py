"""PROGIMAGE_SIGNED_READS: unsigned, tampered, expired and rotated-key URLs, as a
client of the app sees them."""

import time
from dataclasses import replace

import pytest

from helpers import decode, make_image, upload
from progimage.signing import signed_query

NEW, OLD = "new-signing-key", "old-signing-key"


@pytest.fixture(name="signed_client")
def _signed_client(app_factory, settings):
    """A client of an app that requires signatures for conversions, with the new
    key signing and the old one still verifying."""
    def build(reads: str = "variants", **more):
        changed = replace(settings, signing_keys=f"{NEW},{OLD}", signed_reads=reads,
                          **more)
        return app_factory(changed).test_client()
    return build


def stored(client) -> str:
    return upload(client, make_image("PNG", size=(64, 48))).get_data(as_text=True)


def signed(path: str, key: str = NEW, expires: int | None = None, **options) -> str:
    return f"{path}?{signed_query(key, path, options, expires)}"


def refused(response, reason: str) -> None:
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert reason in response.get_json()["detail"]


def test_a_signed_conversion_is_served_and_an_unsigned_one_refused(signed_client):
    client = signed_client()
    ref = stored(client)
    response = client.get(signed(f"/storage/{ref}.webp", w=32))
    assert response.status_code == 200
    assert decode(response.data).size == (32, 24)
    refused(client.get(f"/storage/{ref}.webp?w=32"), "needs a signature")
    refused(client.get(f"/storage/{ref}.webp"), "needs a signature")
    refused(client.get(f"/storage/{ref}?w=32"), "needs a signature")


def test_originals_stay_open_when_only_variants_are_signed(signed_client):
    client = signed_client()
    ref = stored(client)
    with client.get(f"/storage/{ref}") as response:
        assert response.status_code == 200
        assert decode(response.data).size == (64, 48)
    assert client.get(f"/storage/{ref}/info").status_code == 200


def test_a_tampered_url_is_refused(signed_client):
    client = signed_client()
    ref = stored(client)
    url = signed(f"/storage/{ref}.webp", w=32)
    refused(client.get(url.replace("w=32", "w=33")), "does not match")
    refused(client.get(url.replace(".webp", ".png")), "does not match")
    refused(client.get(url + "&h=10"), "does not match")
    refused(client.get(url.replace("sig=", "sig=A")), "does not match")


def test_an_expired_url_is_refused_and_a_live_one_cached_until_it_expires(
    signed_client,
):
    client = signed_client()
    ref = stored(client)
    now = int(time.time())
    refused(client.get(signed(f"/storage/{ref}.webp", expires=now - 1, w=32)),
            "expired")
    with client.get(signed(f"/storage/{ref}.webp", expires=now + 600, w=32)) as live:
        assert live.status_code == 200
    max_age = int(live.headers["Cache-Control"].removeprefix("public, max-age="))
    assert 590 <= max_age <= 600
    # A later expiry cannot be put on a URL without its key.
    later = signed(f"/storage/{ref}.webp", expires=now - 1, w=32).replace(
        f"exp={now - 1}", f"exp={now + 600}")
    refused(client.get(later), "does not match")


def test_keys_rotate_the_old_verifies_a_removed_one_does_not(signed_client):
    client = signed_client()
    ref = stored(client)
    with client.get(signed(f"/storage/{ref}.webp", OLD, w=32)) as old:
        assert old.status_code == 200
        assert decode(old.data).width == 32
    refused(client.get(signed(f"/storage/{ref}.webp", "removed-key", w=32)),
            "does not match")


def test_signature_parameters_stay_out_of_the_variant_key(signed_client):
    """Two signed URLs of one variant (other expiries) share one ETag."""
    client = signed_client()
    ref = stored(client)
    now = int(time.time())
    with client.get(signed(f"/storage/{ref}.webp", expires=now + 60, w=32)) as first:
        etag = first.headers["ETag"]
    with client.get(signed(f"/storage/{ref}.webp", expires=now + 120, w=32)) as second:
        assert second.headers["ETag"] == etag


def test_all_reads_need_a_signature_originals_and_info_too(signed_client):
    client = signed_client("all")
    ref = stored(client)
    refused(client.get(f"/storage/{ref}"), "needs a signature")
    refused(client.get(f"/storage/{ref}/info"), "needs a signature")
    with client.get(signed(f"/storage/{ref}")) as original:
        assert original.status_code == 200
    info = client.get(signed(f"/storage/{ref}/info"))
    assert info.get_json()["width"] == 64


def test_signatures_are_ignored_when_off(client):
    ref = stored(client)
    response = client.get(f"/storage/{ref}.webp?w=32&exp=1&sig=anything")
    assert response.status_code == 200
    assert decode(response.data).size == (32, 24)


def test_a_preset_alone_may_go_unsigned(signed_client):
    """With PROGIMAGE_UNSIGNED_PRESETS a request whose only option is ``preset``
    passes the signature check (whether the preset exists is the options' say);
    anything beside it needs a signature again."""
    ref_path = "/storage/{ref}.webp?preset=thumb"
    client = signed_client(unsigned_presets=True)
    ref = stored(client)
    with client.get(ref_path.format(ref=ref)) as preset:
        assert preset.status_code != 403
    refused(client.get(ref_path.format(ref=ref) + "&w=32"), "needs a signature")
    strict = signed_client()
    refused(strict.get(ref_path.format(ref=stored(strict))), "needs a signature")


def test_a_malformed_expiry_is_a_bad_option(signed_client):
    client = signed_client()
    ref = stored(client)
    response = client.get(f"/storage/{ref}.webp?w=32&exp=soon&sig=x")
    assert response.status_code == 400
    assert "'exp'" in response.get_json()["detail"]
