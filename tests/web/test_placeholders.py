"""Placeholders: the BlurHash and average colour computed at upload (or at the first
/info of a large JPEG), shown by /info, and the tiny PNG at
/storage/<ref>/placeholder, checked against decoded pixels."""

import json
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageStat

from helpers import decode, encode, make_image, upload, with_orientation
from progimage.exceptions import ConvertersBusy, StorageUnavailable
from progimage.signing import signed_query

# How far (0-255, per channel) the placeholder's average colour may lie from the
# image's: both average a reduced copy, and a BlurHash quantises its colours.
COLOUR_TOLERANCE = 8
# The decoded placeholder's average may lie further: BlurHash averages in linear
# light, so a hard edge between two colours decodes lighter than their sRGB mean.
BLUR_TOLERANCE = 16


def _halves(size: tuple[int, int], left: tuple, right: tuple, mode="RGB"):
    """An image whose left half is ``left`` and right half ``right``."""
    image = Image.new(mode, size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def _mean(image: Image.Image) -> list[float]:
    return ImageStat.Stat(image.convert("RGB")).mean


def _close(colour: str | list[float], expected: tuple,
           tolerance: int = COLOUR_TOLERANCE) -> bool:
    if isinstance(colour, str):
        colour = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected))


def test_a_jpeg_upload_gets_a_blurhash_and_its_average_colour(client):
    """/info shows the hash and the colour; the placeholder PNG decodes to the
    image's shape (32 px on the longer side) and average colour, and is blurred
    from orange on the left to blue on the right."""
    image = _halves((1600, 1200), (230, 120, 20), (20, 60, 200))
    ref = upload(client, encode(image, "JPEG", quality=95)).get_data(as_text=True)
    info = client.get(f"/storage/{ref}/info").get_json()
    expected = (125, 90, 110)
    assert len(info["blurhash"]) == 28  # 4 x 3 components
    assert _close(info["colour"], expected), info["colour"]
    assert info["placeholder"] == f"/storage/{ref}/placeholder"
    response = client.get(info["placeholder"])
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert len(response.data) < 2000
    shown = decode(response.data)
    assert shown.size == (32, 24)
    assert _close(_mean(shown), expected, BLUR_TOLERANCE), _mean(shown)
    left, right = shown.getpixel((1, 12)), shown.getpixel((30, 12))
    assert left[0] > right[0] + 100 and right[2] > left[2] + 50


def test_the_placeholder_is_upright(client):
    """An image the camera held sideways (EXIF orientation 6) is shown turned:
    its placeholder is portrait, red at the top."""
    # Orientation 6: the stored left edge is the top as shown.
    stored = _halves((80, 40), (255, 0, 0), (0, 0, 255))
    data = encode(stored, "JPEG", exif=with_orientation(6))
    ref = upload(client, data).get_data(as_text=True)
    shown = decode(client.get(f"/storage/{ref}/placeholder").data)
    assert shown.size == (16, 32)
    top, bottom = shown.getpixel((8, 1)), shown.getpixel((8, 30))
    assert top[0] > 150 > bottom[0] and bottom[2] > 150 > top[2]


def test_transparency_is_shown_over_white(client):
    """A half-transparent blue PNG: the placeholder is what a page shows, light
    blue over white."""
    image = Image.new("RGBA", (64, 64), (0, 0, 255, 128))
    ref = upload(client, encode(image)).get_data(as_text=True)
    info = client.get(f"/storage/{ref}/info").get_json()
    assert _close(info["colour"], (127, 127, 255)), info["colour"]
    shown = decode(client.get(f"/storage/{ref}/placeholder").data)
    assert _close(_mean(shown), (127, 127, 255), BLUR_TOLERANCE), _mean(shown)


def _stored_without_placeholder(client, settings) -> str:
    """A 90x60 image stored with a record from before placeholders (no blurhash or
    colour); its reference."""
    ref = upload(client, make_image("PNG", size=(90, 60))).get_data(as_text=True)
    record_file = next(Path(settings.storage).rglob(f"{ref}/record.json"))
    record = json.loads(record_file.read_text())
    del record["blurhash"], record["colour"]
    record_file.write_text(json.dumps(record))
    return ref


def test_a_record_without_one_has_it_computed_from_the_original(client, settings):
    """A record from before placeholders: /info says null, the placeholder route
    computes it from the stored image."""
    ref = _stored_without_placeholder(client, settings)
    info = client.get(f"/storage/{ref}/info").get_json()
    assert info["blurhash"] is None and info["colour"] is None
    response = client.get(f"/storage/{ref}/placeholder")
    assert response.status_code == 200
    shown = decode(response.data)
    assert shown.size == (32, 21)
    # make_image's gradient: red 0-255 left to right, green 0-255 down, blue 128.
    assert _close(_mean(shown), (127, 127, 128), BLUR_TOLERANCE), _mean(shown)


def test_a_deep_greyscale_png_gets_a_grey_placeholder(client):
    """16-bit samples are scaled to 8 bits, not clipped to white."""
    image = Image.new("I;16", (40, 40), 32768)
    ref = upload(client, encode(image)).get_data(as_text=True)
    info = client.get(f"/storage/{ref}/info").get_json()
    assert _close(info["colour"], (128, 128, 128)), info["colour"]


def test_no_placeholder_of_nothing(client):
    """An unknown reference: 404, as for the image."""
    response = client.get("/storage/3f1c2b7e-9d4a-4c1e-8b2f-6a5d7e8f9012/placeholder")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_signed_reads_of_everything_cover_the_placeholder(app_factory, settings):
    """PROGIMAGE_SIGNED_READS=all: the placeholder needs a signature as /info does."""
    client = app_factory(replace(
        settings, signing_keys="k" * 32, signed_reads="all",
    )).test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    path = f"/storage/{ref}/placeholder"
    assert client.get(path).status_code == 403
    response = client.get(f"{path}?{signed_query('k' * 32, path, {})}")
    assert response.status_code == 200
    assert decode(response.data).size == (32, 24)


def _counted_jobs(client, monkeypatch) -> list[tuple[bool, str]]:
    """Each converter job the app runs from now on, as (given no image bytes, the
    BlurHash it decodes)."""
    converters = client.application.extensions["progimage"].converters
    convert, jobs = converters.convert, []

    def counted(data, job):
        jobs.append((data == b"", job.blurhash))
        return convert(data, job)

    monkeypatch.setattr(converters, "convert", counted)
    return jobs


def test_a_computed_placeholder_is_kept_in_the_record(client, settings, monkeypatch):
    """The first placeholder of a record without a BlurHash is computed from the
    original and stored: /info shows it after, and the next request only decodes
    the stored hash (no converter job is given the original)."""
    ref = _stored_without_placeholder(client, settings)
    jobs = _counted_jobs(client, monkeypatch)
    first = client.get(f"/storage/{ref}/placeholder")
    info = client.get(f"/storage/{ref}/info").get_json()
    second = client.get(f"/storage/{ref}/placeholder")
    assert first.status_code == second.status_code == 200
    assert len(info["blurhash"]) == 28  # 4 x 3 components
    assert _close(info["colour"], (127, 127, 128), COLOUR_TOLERANCE), info["colour"]
    assert jobs == [(False, ""), (True, info["blurhash"])]
    assert decode(second.data).size == (32, 21)
    assert _mean(decode(second.data)) == _mean(decode(first.data))


def test_a_placeholder_the_store_cannot_keep_is_still_answered(client, settings,
                                                               monkeypatch):
    """A store that refuses the record update (read-only) still gets the computed
    placeholder answered; the record stays without one."""
    ref = _stored_without_placeholder(client, settings)
    storage = client.application.extensions["progimage"].storage

    def refuse(ref, record):
        raise StorageUnavailable("the storage folder is read-only")

    monkeypatch.setattr(storage, "update_record", refuse)
    response = client.get(f"/storage/{ref}/placeholder")
    assert response.status_code == 200
    assert decode(response.data).size == (32, 21)
    assert client.get(f"/storage/{ref}/info").get_json()["blurhash"] is None


def test_a_computed_placeholder_is_kept_in_an_s3_record(
    app_factory, settings, s3_bucket, monkeypatch
):
    """The S3 backend keeps it too, in the object's metadata."""
    client = app_factory(
        replace(settings, storage=f"s3://{s3_bucket}/app")).test_client()
    ref = upload(client, make_image("PNG", size=(90, 60))).get_data(as_text=True)
    storage = client.application.extensions["progimage"].storage
    storage.update_record(ref, replace(storage.record(ref), blurhash="", colour=""))
    jobs = _counted_jobs(client, monkeypatch)
    assert client.get(f"/storage/{ref}/placeholder").status_code == 200
    hash_ = client.get(f"/storage/{ref}/info").get_json()["blurhash"]
    assert client.get(f"/storage/{ref}/placeholder").status_code == 200
    assert len(hash_) == 28
    assert jobs == [(False, ""), (True, hash_)]


def test_a_large_jpeg_gets_its_placeholder_at_its_first_info(client, monkeypatch):
    """Above 0.25 MP the upload check reads a JPEG's markers and decodes nothing:
    the first /info computes the placeholder from the original, and keeps it."""
    image = _halves((800, 600), (230, 120, 20), (20, 60, 200))
    ref = upload(client, encode(image, "JPEG", quality=95)).get_data(as_text=True)
    jobs = _counted_jobs(client, monkeypatch)
    first = client.get(f"/storage/{ref}/info").get_json()
    again = client.get(f"/storage/{ref}/info").get_json()
    assert jobs == [(False, "")]  # one job, given the original
    assert len(first["blurhash"]) == 28 and again["blurhash"] == first["blurhash"]
    assert _close(first["colour"], (125, 90, 110)), first["colour"]


def test_a_small_jpeg_has_its_placeholder_from_the_upload(client, monkeypatch):
    """Up to 0.25 MP the check decodes the JPEG (at 1/8 scale) and keeps the
    placeholder: /info runs no job."""
    image = _halves((600, 400), (230, 120, 20), (20, 60, 200))
    ref = upload(client, encode(image, "JPEG", quality=95)).get_data(as_text=True)
    jobs = _counted_jobs(client, monkeypatch)
    info = client.get(f"/storage/{ref}/info").get_json()
    assert jobs == []
    assert len(info["blurhash"]) == 28


def test_info_answers_without_a_placeholder_it_cannot_compute(client, monkeypatch):
    """Busy converters do not fail /info: it answers null, and a later /info
    computes the placeholder."""
    image = _halves((800, 600), (230, 120, 20), (20, 60, 200))
    ref = upload(client, encode(image, "JPEG")).get_data(as_text=True)
    converters = client.application.extensions["progimage"].converters
    convert = converters.convert

    def busy(data, job):
        raise ConvertersBusy("as many conversions as allowed are running")

    monkeypatch.setattr(converters, "convert", busy)
    response = client.get(f"/storage/{ref}/info")
    assert response.status_code == 200
    assert response.get_json()["blurhash"] is None
    assert response.get_json()["width"] == 800
    monkeypatch.setattr(converters, "convert", convert)
    assert len(client.get(f"/storage/{ref}/info").get_json()["blurhash"]) == 28
