"""Eager variants: presets converted right after an upload, in the background."""

import io
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families
from helpers import decode, make_image, upload

from progimage.config import Settings, SettingsError

PRESETS = "thumb=w:16,h:16,fit:cover;small=w:8"


@pytest.fixture(name="eager_app")
def _eager_app(tmp_path, app_factory):
    return app_factory(Settings(storage=str(tmp_path / "d"), presets=PRESETS,
                                eager_presets="thumb.webp,small"))


def _service(app):
    return app.extensions["progimage"]


def _conversions(client) -> float:
    """Images converted so far, as /metrics counts them."""
    text = client.get("/metrics").get_data(as_text=True)
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == "progimage_conversions_total")


def test_configured_presets_are_cached_after_an_upload(eager_app):
    client = eager_app.test_client()
    ref = upload(client, make_image("PNG", (64, 48))).get_data(as_text=True)
    _service(eager_app).eager.join()
    assert client.get(f"/storage/{ref}/info").get_json()["eager"] == {
        "thumb.webp": True, "small": True}
    conversions = _conversions(client)
    assert conversions == 2
    with client.get(f"/storage/{ref}.webp?preset=thumb") as thumb, \
            client.get(f"/storage/{ref}?preset=small") as small:
        assert decode(thumb.data).size == (16, 16)
        assert (decode(small.data).format, decode(small.data).size) == ("PNG", (8, 6))
    assert _conversions(client) == conversions  # served from the cache


def test_an_upload_may_ask_for_more(tmp_path, app_factory):
    app = app_factory(Settings(storage=str(tmp_path / "d"), presets=PRESETS))
    client = app.test_client()
    plain = upload(client, make_image("PNG")).get_data(as_text=True)
    assert "eager" not in client.get(f"/storage/{plain}/info").get_json()
    response = client.put("/storage/", data={
        "data": (io.BytesIO(make_image("PNG")), "a.png"), "eager": "thumb.avif"})
    ref = response.get_data(as_text=True)
    _service(app).eager.join()
    assert client.get(f"/storage/{ref}/info").get_json()["eager"] == {
        "thumb.avif": True}


@pytest.mark.parametrize("eager, detail", [
    ("nope", "'nope' names no preset"),
    ("thumb.we/bp", "is not a file extension"),
])
def test_an_unknown_eager_preset_is_refused_before_storing(eager_app, eager, detail):
    client = eager_app.test_client()
    response = client.put("/storage/", data={
        "data": (io.BytesIO(make_image("PNG")), "a.png"), "eager": eager})
    assert response.status_code == 400
    assert detail in response.get_json()["detail"]


def test_info_says_not_ready_while_not_converted(tmp_path, app_factory):
    app = app_factory(Settings(storage=str(tmp_path / "d"), presets=PRESETS))
    client = app.test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    record = _service(app).info(ref)
    ready = _service(app).eager_ready(ref, replace(record, eager="thumb.webp"))
    assert ready == {"thumb.webp": False}


@pytest.mark.parametrize("eager, message", [
    ("hero", "PROGIMAGE_EAGER_PRESETS: 'hero' names no preset"),
    ("thumb.x y", "PROGIMAGE_EAGER_PRESETS: 'thumb.x y'"),
])
def test_a_bad_eager_setting_stops_the_start(eager, message):
    with pytest.raises(SettingsError, match=message):
        Settings(presets=PRESETS, eager_presets=eager)
