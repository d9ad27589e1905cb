"""The upload answer with ready-made links: asked with ``Accept: application/json``
or ``Prefer: return=representation``, it is JSON with a signed URL per preset, which
the server then serves; plain text stays the default."""

from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from helpers import decode, make_image, upload

PRESETS = "thumb=w:16,h:16,fit:cover;wide=w:40"
KEY = "upload-signing-key"


@pytest.fixture(name="signing")
def _signing(app_factory, settings):
    """A client of an app with two presets that signs its variant URLs."""
    return app_factory(replace(
        settings, presets=PRESETS, signing_keys=KEY, signed_reads="variants",
    )).test_client()


def served(client, url: str):
    parts = urlsplit(url)
    with client.get(f"{parts.path}?{parts.query}",
                    headers={"Accept": "image/webp"}) as response:
        return response.status_code, decode(response.get_data()).size


@pytest.mark.parametrize("asking", [
    {"Accept": "application/json"},
    {"Prefer": "return=representation"},
    {"Prefer": "respond-async, return=representation; x=1"},
])
def test_asked_the_answer_has_signed_preset_urls(signing, asking):
    response = upload(signing, make_image("PNG", size=(80, 60)), headers=asking)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    ref = body["ref"]
    assert body["location"] == response.headers["Location"] == f"/storage/{ref}"
    assert sorted(body["urls"]) == ["thumb", "wide"]
    thumb = body["urls"]["thumb"]
    assert thumb.startswith(f"http://localhost/storage/{ref}.auto?preset=thumb&sig=")
    assert served(signing, thumb) == (200, (16, 16))
    assert served(signing, body["urls"]["wide"]) == (200, (40, 30))
    # The signature is what lets it through: without it, 403.
    with signing.get(f"/storage/{ref}.auto?preset=thumb") as unsigned:
        assert unsigned.status_code == 403
    if "Prefer" in asking:
        assert response.headers["Preference-Applied"] == "return=representation"


def test_plain_text_stays_the_default(signing):
    response = upload(signing, make_image(), headers={"Accept": "*/*"})
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == response.headers["Location"][9:]
    assert "Preference-Applied" not in response.headers
    assert set(response.vary) >= {"Accept", "Prefer"}


def test_without_signing_keys_the_urls_are_plain(app_factory, settings):
    client = app_factory(replace(settings, presets=PRESETS)).test_client()
    body = upload(client, make_image(), headers={"Accept": "application/json"})
    ref = body.get_json()["ref"]
    assert body.get_json()["urls"] == {
        "thumb": f"http://localhost/storage/{ref}.auto?preset=thumb",
        "wide": f"http://localhost/storage/{ref}.auto?preset=wide",
    }


def test_without_presets_there_are_no_urls(client):
    body = upload(client, make_image(), headers={"Accept": "application/json"})
    assert body.get_json()["urls"] == {}
