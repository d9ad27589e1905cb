"""lossless AVIF through HTTP: stills keep every pixel, animations their timing."""

import io
import random

import pytest
from PIL import Image, ImageChops, ImageCms, ImageSequence, ImageStat

from helpers import corpus_image, decode, make_image, upload


@pytest.fixture(name="store")
def _store(client):
    """Upload bytes, return the reference."""
    return lambda data: upload(client, data).get_data(as_text=True)


def fetch(client, path: str) -> Image.Image:
    """GET a derived image; assert it succeeded and decode it."""
    response = client.get(path)
    assert response.status_code == 200, response.get_json()
    return decode(response.data)


def largest_difference(first: Image.Image, second: Image.Image) -> int:
    """The largest difference of any channel of any pixel, 0-255."""
    extrema = ImageChops.difference(first, second.convert(first.mode)).getextrema()
    return max(high for _, high in extrema) if first.getbands()[1:] else extrema[1]


def frames(data: bytes) -> list[tuple[Image.Image, int]]:
    """Each frame of an encoded animation as RGBA, with its duration."""
    with Image.open(io.BytesIO(data)) as image:
        return [
            (frame.convert("RGBA"), frame.info.get("duration"))
            for frame in ImageSequence.Iterator(image)
        ]


@pytest.mark.parametrize("source, mode", [
    (lambda: corpus_image("hopper.jpg"), "RGB"),
    (lambda: corpus_image("pil_sample_rgb.jpg"), "RGB"),
    (lambda: corpus_image("pil_sample_cmyk.jpg"), "RGB"),
    (lambda: corpus_image("transparent.png"), "RGBA"),
    (lambda: corpus_image("pil123p.png"), "RGBA"),
    (lambda: make_image("PNG", size=(96, 64), mode="L"), "L"),
    (lambda: corpus_image("pil184.pcx"), "L"),
    (lambda: corpus_image("uncompressed_la.png"), "RGBA"),
], ids=["jpeg-photo", "jpeg-icc", "cmyk", "rgba", "palette-trns", "gray", "1-bit",
        "gray-alpha"])
def test_lossless_still_keeps_every_pixel(client, store, source, mode):
    """A still decodes to exactly the pixels a PNG of the same image holds."""
    ref = store(source())
    avif = fetch(client, f"/storage/{ref}.avif?lossless")
    png = fetch(client, f"/storage/{ref}.png")
    assert (avif.format, avif.mode, avif.size) == ("AVIF", mode, png.size)
    assert largest_difference(avif, png) == 0


def test_lossless_keeps_pixels_that_quality_100_changes(client, store):
    """Random colours, where RGB to YUV rounding shows most: lossless is exact, the
    best lossy setting is not."""
    noise = Image.frombytes("RGB", (48, 32), random.Random(5).randbytes(48 * 32 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    ref = store(buffer.getvalue())
    exact = fetch(client, f"/storage/{ref}.avif?lossless")
    best_lossy = fetch(client, f"/storage/{ref}.avif?q=100")
    assert largest_difference(exact, noise) == 0
    assert largest_difference(best_lossy, noise) > 0


def test_lossless_tags_an_srgb_image_instead_of_its_profile(client, store):
    """The exact encoder writes no ICC profile: an sRGB one becomes the sRGB tag;
    plain AVIF keeps the profile."""
    ref = store(corpus_image("pil_sample_rgb.jpg"))
    assert "icc_profile" not in fetch(client, f"/storage/{ref}.avif?lossless").info
    assert fetch(client, f"/storage/{ref}.avif").info.get("icc_profile")


def test_lossless_keeps_a_wide_gamut_profile(client, store):
    """A profile other than sRGB cannot become a tag: the image keeps its profile on
    Pillow's best setting, so its colours stay right, within 3 of exact."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    wide = srgb.replace("sRGB".encode("utf-16-be"), "Wide".encode("utf-16-be"))
    noise = Image.frombytes("RGB", (48, 32), random.Random(7).randbytes(48 * 32 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "PNG", icc_profile=wide)
    avif = fetch(client, f"/storage/{store(buffer.getvalue())}.avif?lossless")
    assert avif.info.get("icc_profile") == wide
    assert 0 < largest_difference(avif, noise) <= 3


def test_lossless_animation_keeps_frames_and_durations(client, store):
    """A real APNG with differing delays keeps its frames and their durations, with
    pixels within 3 of the source's (animations stay on Pillow's encoder)."""
    data = corpus_image("iss634.apng")
    source = frames(data)
    with client.get(f"/storage/{store(data)}.avif?lossless") as response:
        avif = frames(response.data)
    assert len(avif) == len(source) == 41
    assert [duration for _, duration in avif] == [
        round(duration) for _, duration in source
    ]
    assert len({duration for _, duration in avif}) > 1
    assert max(
        largest_difference(a, s) for (a, _), (s, _) in zip(avif, source, strict=True)
    ) <= 3


@pytest.mark.parametrize("query", ["", "?q=40"])
def test_plain_avif_stays_lossy(client, store, query):
    """Without lossless, AVIF stays on Pillow's lossy encoder: close, not exact."""
    ref = store(corpus_image("hopper.png"))
    image = fetch(client, f"/storage/{ref}.avif{query}")
    assert (image.format, image.mode, image.size) == ("AVIF", "RGB", (128, 128))
    original = decode(corpus_image("hopper.png"))
    assert largest_difference(image, original) > 0
    assert max(ImageStat.Stat(ImageChops.difference(image, original)).mean) < 12
