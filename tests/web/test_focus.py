"""PUT /storage/<ref>/focus: a stored focus point that later cover cuts keep."""

from dataclasses import replace

import pytest
from PIL import Image

from helpers import decode, encode, make_image, upload

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
CUT = "w=10&h=10&fit=cover"


@pytest.fixture(name="stripes")
def _stripes(client) -> str:
    """A 30x10 image: red, green and blue thirds."""
    image = Image.new("RGB", (30, 10), GREEN)
    image.paste(RED, (0, 0, 10, 10))
    image.paste(BLUE, (20, 0, 30, 10))
    return upload(client, encode(image)).get_data(as_text=True)


def cut_colour(client, ref: str, query: str = CUT) -> tuple[tuple, str]:
    """The centre colour of the cut and its ETag."""
    with client.get(f"/storage/{ref}.png?{query}") as response:
        assert response.status_code == 200, response.get_data(as_text=True)
        centre = decode(response.data).convert("RGB").getpixel((5, 5))
        return centre, response.headers["ETag"]


def test_stored_focus_moves_the_cut_and_shows_in_info(client, stripes):
    assert cut_colour(client, stripes)[0] == GREEN
    response = client.put(f"/storage/{stripes}/focus", data="0.9,0.5")
    assert response.status_code == 204
    assert cut_colour(client, stripes)[0] == BLUE
    assert client.get(f"/storage/{stripes}/info").get_json()["focus"] == [0.9, 0.5]


def test_a_changed_focus_never_serves_the_old_cut(client, stripes):
    """The variant's key and ETag name the focus: the cached cut of the old focus
    is not answered for the new one."""
    client.put(f"/storage/{stripes}/focus", data="0.9,0.5")
    blue, blue_tag = cut_colour(client, stripes)
    client.put(f"/storage/{stripes}/focus", json={"x": 0.1, "y": 0.5})
    red, red_tag = cut_colour(client, stripes)
    assert (blue, red) == (BLUE, RED)
    assert blue_tag != red_tag


@pytest.mark.parametrize("query, colour", [
    (f"{CUT}&gravity=w", RED), (f"{CUT}&focus=0.5,0.5", GREEN),
    (f"{CUT}&gravity=smart", GREEN),
])
def test_a_requested_gravity_wins(client, stripes, query, colour):
    client.put(f"/storage/{stripes}/focus", data="0.9,0.5")
    assert cut_colour(client, stripes, query)[0] == colour


def test_other_fits_ignore_it(client, stripes):
    """Only cover cuts: a resize keeps its key and ETag."""
    tags = []
    for body in ("0.5,0.5", "0.9,0.5"):
        client.put(f"/storage/{stripes}/focus", data=body)
        with client.get(f"/storage/{stripes}.png?w=15") as response:
            tags.append(response.headers["ETag"])
    assert tags[0] == tags[1]


@pytest.mark.parametrize("body, detail", [
    ({"data": "0.5"}, "focus: must be x,y"),
    ({"data": "2,0.5"}, "focus: must be a number at least 0 and at most 1"),
    ({"json": {"x": "0.5", "y": 0.5}}, 'focus: a JSON body must be {"x"'),
    ({"json": {"x": True, "y": 0.5}}, "focus: a JSON body"),
    ({"data": "0.5," * 100}, "focus: the body must be x,y"),
])
def test_a_bad_focus_is_400(client, stripes, body, detail):
    response = client.put(f"/storage/{stripes}/focus", **body)
    assert response.status_code == 400
    assert detail in response.get_json()["detail"]


def test_unknown_image_is_404(client):
    response = client.put(
        "/storage/0b6f1c1e-5d8a-4c47-9a5e-6f1d2f6b3c2a/focus", data="0.5,0.5"
    )
    assert response.status_code == 404


def test_only_writers_set_it(app_factory, settings):
    keyed = app_factory(replace(settings, api_keys="alpha")).test_client()
    headers = {"Authorization": "Bearer alpha"}
    ref = upload(keyed, make_image(), headers=headers).get_data(as_text=True)
    path = f"/storage/{ref}/focus"
    assert keyed.put(path, data="0.1,0.1").status_code == 401
    assert keyed.put(path, data="0.1,0.1",
                     headers={"Authorization": "Bearer beta"}).status_code == 403
    assert keyed.put(path, data="0.1,0.1", headers=headers).status_code == 204


def test_focus_in_an_s3_store(app_factory, settings, s3_bucket):
    """The S3 backend replaces the record in the object's metadata; the bytes
    stay the same."""
    client = app_factory(
        replace(settings, storage=f"s3://{s3_bucket}/app")
    ).test_client()
    data = make_image("PNG", size=(30, 10))
    ref = upload(client, data).get_data(as_text=True)
    assert client.put(f"/storage/{ref}/focus", data="0.25,1").status_code == 204
    assert client.get(f"/storage/{ref}/info").get_json()["focus"] == [0.25, 1.0]
    with client.get(f"/storage/{ref}") as original:
        assert original.data == data
