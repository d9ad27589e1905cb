"""POST /storage/bulk: many reads in one streamed ZIP, failures in its manifest."""

import io
import json
import zipfile

import pytest
from helpers import SLOW_CONVERSION, decode, make_image, slow_png, upload

from progimage.config import Settings
from progimage.signing import signed_query

MISSING = "00000000-0000-4000-8000-000000000000"


def _archive(response) -> tuple[dict[str, bytes], list[dict]]:
    """The members of a bulk answer but the manifest, and the manifest."""
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return members, json.loads(members.pop("manifest.json"))


@pytest.fixture(name="refs")
def _refs(client):
    return [upload(client, make_image("PNG", (40 + 10 * n, 30))).get_data(as_text=True)
            for n in range(3)]


def test_one_option_set_over_many_refs(client, refs):
    response = client.post("/storage/bulk", json={
        "refs": refs, "ext": "webp", "options": {"w": 20}})
    members, manifest = _archive(response)
    assert sorted(members) == sorted(f"{ref}.webp" for ref in refs)
    for ref in refs:
        image = decode(members[f"{ref}.webp"])
        assert image.format == "WEBP" and image.width == 20
    assert [entry["status"] for entry in manifest] == [200, 200, 200]
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="progimage.zip"')


def test_entries_each_with_their_own_options_and_the_original(client, refs):
    with client.get(f"/storage/{refs[0]}") as response:
        original = response.data
    response = client.post("/storage/bulk", json=[
        {"ref": refs[0]},
        {"ref": refs[0], "ext": "jpeg", "options": {"w": 10, "grayscale": True}},
        {"ref": refs[0], "ext": "jpeg", "options": {"crop": [0, 0, 8, 6]}},
    ])
    members, _ = _archive(response)
    assert members[f"{refs[0]}.png"] == original
    first, second = decode(members[f"{refs[0]}.jpeg"]), decode(
        members[f"{refs[0]}-2.jpeg"])
    assert (first.size, first.mode) == ((10, 8), "L")
    assert second.size == (8, 6)


def test_failed_entries_are_listed_and_the_rest_sent(client, refs):
    response = client.post("/storage/bulk", json=[
        {"ref": MISSING, "ext": "png"},
        {"ref": refs[1], "ext": "nope"},
        {"ref": refs[1], "ext": "png", "options": {"w": "wide"}},
        {"ref": refs[2], "ext": "png"},
    ])
    members, manifest = _archive(response)
    assert list(members) == [f"{refs[2]}.png"]
    assert [entry["status"] for entry in manifest] == [404, 400, 400, 200]
    assert "nope" in manifest[1]["detail"]
    assert manifest[3] == {"ref": refs[2], "path": f"/storage/{refs[2]}.png",
                           "status": 200, "name": f"{refs[2]}.png",
                           "bytes": len(members[f"{refs[2]}.png"])}


@pytest.mark.parametrize("body", [
    None, {}, [], "text", [{"ref": 7}], [{"ref": "x", "options": []}], {"refs": 3},
    {"refs": ["x"], "options": {"w": {}}}, {"refs": ["x"], "options": {"w": None}},
    {"refs": ["x"], "options": {"crop": [[1], 2]}}, {"refs": ["x"], "other": 1},
    [{"ref": "x", "other": 1}],
])
def test_a_body_that_lists_no_entries_is_400(client, body):
    response = client.post("/storage/bulk", json=body)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def _bulk_client(tmp_path, app_factory, **settings):
    return app_factory(Settings(storage=str(tmp_path / "d"), **settings)).test_client()


def test_more_entries_than_allowed_is_400(tmp_path, app_factory):
    client = _bulk_client(tmp_path, app_factory, bulk_max_entries=2)
    response = client.post("/storage/bulk", json={"refs": [MISSING] * 3})
    assert response.status_code == 400
    assert "at most 2" in response.get_json()["detail"]


def test_a_body_longer_than_its_entries_need_is_413(tmp_path, app_factory):
    """Two entries allowed: 4 KiB of JSON at most, however large uploads may be."""
    client = _bulk_client(tmp_path, app_factory, bulk_max_entries=2)
    padded = {"refs": [MISSING], "options": {"bg": "f" * 5000}}
    assert client.post("/storage/bulk", json=padded).status_code == 413


def test_the_byte_budget_lists_what_did_not_fit(tmp_path, app_factory):
    png = make_image("PNG", (30, 30))
    client = _bulk_client(tmp_path, app_factory, bulk_max_bytes=len(png) + 10)
    refs = [upload(client, png).get_data(as_text=True) for _ in range(2)]
    members, manifest = _archive(client.post("/storage/bulk", json={"refs": refs}))
    assert list(members) == [f"{refs[0]}.png"]
    assert manifest[1]["status"] == 413
    assert "PROGIMAGE_BULK_MAX_BYTES" in manifest[1]["detail"]


def test_signed_reads_need_each_entry_signed(tmp_path, app_factory):
    client = _bulk_client(tmp_path, app_factory, signing_keys="secret",
                          signed_reads="variants")
    ref = upload(client, make_image("PNG", (40, 30))).get_data(as_text=True)
    query = signed_query("secret", f"/storage/{ref}.png", {"w": 8})
    signature = dict(pair.split("=") for pair in query.split("&"))["sig"]
    members, manifest = _archive(client.post("/storage/bulk", json=[
        {"ref": ref, "ext": "png", "options": {"w": 8}},
        {"ref": ref, "ext": "png", "options": {"w": 8, "sig": signature}},
        {"ref": ref, "ext": "png", "options": {"w": 9, "sig": signature}},
    ]))
    assert [entry["status"] for entry in manifest] == [403, 200, 403]
    assert decode(members[f"{ref}.png"]).width == 8


def test_private_reads_need_a_key(tmp_path, app_factory):
    client = _bulk_client(tmp_path, app_factory, api_keys="k", private_reads=True)
    assert client.post("/storage/bulk", json={"refs": [MISSING]}).status_code == 401


def test_entries_after_the_time_budget_are_listed_not_read(tmp_path, app_factory):
    """A request runs at most PROGIMAGE_CONVERT_TIMEOUT: the slow entry ran out of
    time, and the one after it is listed as not read."""
    client = app_factory(Settings(
        storage=str(tmp_path / "d"), convert_timeout=0.5, convert_workers=1,
        webp_method=6)).test_client()
    slow = upload(client, slow_png()).get_data(as_text=True)
    quick = upload(client, make_image("PNG")).get_data(as_text=True)
    extension, _, query = SLOW_CONVERSION.partition("?")
    options = dict(pair.split("=") for pair in query.split("&"))
    _, manifest = _archive(client.post("/storage/bulk", json=[
        {"ref": slow, "ext": extension, "options": options},
        {"ref": quick, "ext": "png"},
    ]))
    assert [entry["status"] for entry in manifest] == [503, 503]
    assert "budget" in manifest[1]["detail"]


def test_w_auto_entries_take_the_client_hints_of_the_request(client, refs):
    """Entries asking w=auto (or dpr=auto) are sized from the bulk request's
    Sec-CH-Width / Sec-CH-DPR, as a GET would be: a width within the original's
    (refs[0] is 40x30, refs[2] 60x30) gets it, a wider one the original's width,
    and entries that ask for a width keep theirs."""
    response = client.post("/storage/bulk", headers={"Sec-CH-Width": "50",
                                                     "Sec-CH-DPR": "2"}, json=[
        {"ref": refs[0], "ext": "png", "options": {"w": "auto"}},
        {"ref": refs[2], "ext": "png", "options": {"w": "auto"}},
        {"ref": refs[2], "ext": "jpg", "options": {"w": 12}},
        {"ref": refs[2], "ext": "webp", "options": {"w": 12, "dpr": "auto"}},
    ])
    members, manifest = _archive(response)
    assert [entry["status"] for entry in manifest] == [200, 200, 200, 200]
    assert decode(members[f"{refs[0]}.png"]).size == (40, 30)
    assert decode(members[f"{refs[2]}.png"]).size == (50, 25)
    assert decode(members[f"{refs[2]}.jpg"]).size == (12, 6)
    assert decode(members[f"{refs[2]}.webp"]).size == (24, 12)
