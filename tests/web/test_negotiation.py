"""<ref>.auto: the format from the Accept header, with Vary, per-format ETags and
the CDN-safe redirect."""

import dataclasses

import pytest
from helpers import app_client, decode, make_image, upload

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
OLD_SAFARI = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"


def get(client, path: str, accept: str | None = None, **headers: str):
    """A GET whose body is read (and its file closed) before it is returned."""
    if accept is not None:
        headers["Accept"] = accept
    with client.get(path, headers=headers) as response:
        response.get_data()
    return response


@pytest.fixture(name="ref")
def _ref(client) -> str:
    """A stored 64x48 opaque PNG."""
    return upload(client, make_image("PNG")).get_data(as_text=True)


@pytest.mark.parametrize("accept, mime, fmt", [
    (CHROME, "image/avif", "AVIF"),
    (OLD_SAFARI, "image/webp", "WEBP"),
    ("*/*", "image/jpeg", "JPEG"),
    ("image/*", "image/jpeg", "JPEG"),
    ("", "image/jpeg", "JPEG"),
    ("image/avif;q=0.5,image/webp;q=0.9,*/*;q=0.1", "image/webp", "WEBP"),
    ("image/avif;q=0,image/webp;q=0,*/*", "image/jpeg", "JPEG"),
    ("image/jpeg,image/avif;q=0.8", "image/jpeg", "JPEG"),
], ids=["chrome", "old safari", "any", "any image", "no accept", "q-values",
        "q=0 refuses", "jpeg named first"])
def test_auto_answers_the_best_format_the_client_takes(client, ref, accept, mime, fmt):
    """Named types by q-value then AVIF, WebP, JPEG; wildcards get JPEG only."""
    response = get(client, f"/storage/{ref}.auto?w=32", accept or None)
    assert response.status_code == 200
    assert response.mimetype == mime
    assert "Accept" in response.vary
    image = decode(response.data)
    assert (image.format, image.size) == (fmt, (32, 24))


def test_transparent_images_fall_back_to_png(client):
    """JPEG would lose the alpha channel: a client naming nothing gets PNG."""
    ref = upload(client, make_image("PNG", mode="RGBA")).get_data(as_text=True)
    response = get(client, f"/storage/{ref}.auto", "*/*")
    assert response.mimetype == "image/png"
    assert decode(response.data).mode == "RGBA"
    response = get(client, f"/storage/{ref}.auto", "image/webp")
    assert response.mimetype == "image/webp"


def test_animations_are_sent_as_webp_or_gif(client):
    """Never AVIF (too slow to encode) nor a single JPEG frame."""
    frames = make_image("GIF", save_all=True, append_images=[
        decode(make_image("PNG", size=(64, 48))).convert("P")
    ])
    ref = upload(client, frames).get_data(as_text=True)
    assert get(client, f"/storage/{ref}/info").json["frames"] == 2
    response = get(client, f"/storage/{ref}.auto", CHROME)
    assert response.mimetype == "image/webp"
    assert decode(response.data).n_frames == 2
    response = get(client, f"/storage/{ref}.auto", "*/*")
    assert response.mimetype == "image/gif"
    assert decode(response.data).n_frames == 2


def test_each_chosen_format_has_its_own_etag(client, ref):
    """An ETag names one representation: the AVIF's validates no WebP."""
    avif = get(client, f"/storage/{ref}.auto", "image/avif")
    webp = get(client, f"/storage/{ref}.auto", "image/webp")
    assert avif.headers["ETag"] != webp.headers["ETag"]
    # The concrete URL's ETag is the same representation's.
    assert get(client, f"/storage/{ref}.webp").headers["ETag"] == webp.headers["ETag"]
    again = get(client, f"/storage/{ref}.auto", "image/webp",
                **{"If-None-Match": webp.headers["ETag"]})
    assert again.status_code == 304
    assert "Accept" in again.vary
    changed = get(client, f"/storage/{ref}.auto", "image/avif",
                  **{"If-None-Match": webp.headers["ETag"]})
    assert changed.status_code == 200
    assert changed.mimetype == "image/avif"


def test_a_client_taking_no_candidate_gets_406(client, ref):
    """A problem naming what is offered, varying on Accept like the image would."""
    response = get(client, f"/storage/{ref}.auto", "application/json")
    assert response.status_code == 406
    assert response.mimetype == "application/problem+json"
    assert response.json["detail"] == (
        "this image is offered as image/avif, image/webp, image/jpeg; "
        "the Accept header takes none of them"
    )
    assert "Accept" in response.vary


def test_auto_formats_setting_orders_the_candidates(settings, client, ref):
    """PROGIMAGE_AUTO_FORMATS=webp,avif: WebP first for a client taking both."""
    with app_client(dataclasses.replace(settings, auto_formats="webp,avif")) as other:
        response = get(other, f"/storage/{ref}.auto", CHROME)
        assert response.mimetype == "image/webp"
        response = get(other, f"/storage/{ref}.auto", "*/*")
        assert response.mimetype == "image/jpeg"


def test_auto_redirect_sends_a_short_lived_302_to_the_concrete_url(settings, ref):
    """CDN-safe mode: the redirect is private and brief; the target URL caches."""
    with app_client(dataclasses.replace(settings, auto_redirect=True)) as client:
        response = get(client, f"/storage/{ref}.auto?w=32&q=70", OLD_SAFARI)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/storage/{ref}.webp?w=32&q=70"
        assert response.headers["Cache-Control"] == "private, max-age=60"
        assert "Accept" in response.vary
        followed = get(client, response.headers["Location"])
        assert decode(followed.data).size == (32, 24)
        assert followed.cache_control.immutable
