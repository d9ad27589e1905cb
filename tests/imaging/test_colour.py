"""Colour management through HTTP: Display P3, CMYK and grey images with a profile
keep their colours in sRGB."""

import io

import pytest
from PIL import Image, ImageCms, ImageSequence

from helpers import (
    cmyk_profile, display_p3_profile, encode, fetch, linear_grey_profile,
)

# Display P3 colours and the sRGB colours they are, computed outside the code under
# test: P3 levels -> linear (sRGB curve) -> XYZ D65 (the P3 matrix) -> linear sRGB
# (the inverse sRGB matrix) -> sRGB levels. All five lie inside the sRGB gamut.
P3_TO_SRGB = {
    (200, 60, 40): (217.5, 41.6, 22.7),
    (40, 70, 190): (28.9, 71.0, 197.3),
    (230, 200, 120): (236.1, 198.6, 106.4),
    (180, 40, 160): (196.3, 9.6, 164.9),
    (128, 128, 128): (128.0, 128.0, 128.0),
}
# CIE76 colour difference a viewer cannot tell apart side by side.
UNSEEN = 1.0
# The ΔE by which the P3 numbers shown as sRGB miss each colour, at the least.
SHIFTED = 3.0
STRIPE = 8


def delta_e(first: tuple[float, ...], second: tuple[float, ...]) -> float:
    """CIE76 ΔE of two sRGB colours, by the sRGB and CIELAB formulas (D65 white)."""
    return sum((a - b) ** 2 for a, b in zip(_lab(first), _lab(second))) ** 0.5


def _lab(rgb: tuple[float, ...]) -> tuple[float, float, float]:
    linear = [
        v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
        for v in (level / 255 for level in rgb[:3])
    ]
    matrix = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750),
              (0.0193339, 0.1191920, 0.9503041))
    white = (0.95047, 1.0, 1.08883)
    x, y, z = (
        _f(sum(m * v for m, v in zip(row, linear)) / w) for row, w in zip(matrix, white)
    )
    return 116 * y - 16, 500 * (x - y), 200 * (y - z)


def _f(t: float) -> float:
    return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29


def stripes(mode: str = "RGB") -> Image.Image:
    """One stripe per colour of ``P3_TO_SRGB``, STRIPE pixels wide."""
    image = Image.new("RGB", (STRIPE * len(P3_TO_SRGB), STRIPE))
    for index, colour in enumerate(P3_TO_SRGB):
        image.paste(colour, (index * STRIPE, 0, (index + 1) * STRIPE, STRIPE))
    if mode == "RGBA":
        image.putalpha(100)
    return image.quantize(len(P3_TO_SRGB)) if mode == "P" else image


def p3_png(mode: str = "RGB") -> bytes:
    return encode(stripes(mode), "PNG", icc_profile=display_p3_profile())


def assert_srgb(image: Image.Image) -> None:
    """Every stripe shows the sRGB colour its P3 colour is, within UNSEEN."""
    for index, expected in enumerate(P3_TO_SRGB.values()):
        shown = image.convert("RGB").getpixel((index * STRIPE + STRIPE // 2, 2))
        assert delta_e(shown, expected) < UNSEEN, (index, shown, expected)


def test_the_expected_colours_differ_from_the_p3_numbers():
    """The check can fail: showing the P3 numbers unconverted is far off (but grey)."""
    differences = [delta_e(p3, srgb) for p3, srgb in P3_TO_SRGB.items()]
    assert min(differences[:4]) > SHIFTED
    assert differences[4] == 0


@pytest.mark.parametrize("ext", ["bmp", "gif", "pcx", "qoi"])
def test_a_target_without_profiles_gets_srgb_colours(client, store, ext):
    """A format that cannot store the profile gets the colours converted to sRGB."""
    image = fetch(client, f"/storage/{store(p3_png())}.{ext}")
    assert not image.info.get("icc_profile")
    assert_srgb(image)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "avif", "tif"])
def test_the_profile_is_kept_by_default_where_the_target_stores_one(
    client, store, ext
):
    """icc=keep (the default): the P3 profile goes along, the numbers stay."""
    image = fetch(client, f"/storage/{store(p3_png())}.{ext}?q=100")
    assert image.info.get("icc_profile") == display_p3_profile()
    assert delta_e(image.getpixel((2, 2)), (200, 60, 40)) < UNSEEN


@pytest.mark.parametrize("query", ["icc=srgb", "strip", "icc=srgb&lossless"])
@pytest.mark.parametrize("ext", ["png", "webp"])
def test_icc_srgb_converts_and_drops_the_profile(client, store, ext, query):
    """icc=srgb: no profile in the result, and the colours are the sRGB ones."""
    image = fetch(client, f"/storage/{store(p3_png())}.{ext}?{query}&q=100")
    assert not image.info.get("icc_profile")
    assert_srgb(image)


def test_strip_with_icc_keep_keeps_the_profile(client, store):
    """strip&icc=keep: EXIF and XMP go, the P3 profile stays with the P3 pixels."""
    image = fetch(client, f"/storage/{store(p3_png())}.png?strip&icc=keep")
    assert image.info["icc_profile"] == display_p3_profile()
    assert image.tobytes() == stripes().tobytes()


def test_alpha_stays_through_the_conversion(client, store):
    image = fetch(client, f"/storage/{store(p3_png('RGBA'))}.png?icc=srgb")
    assert image.mode == "RGBA"
    assert image.getchannel("A").getextrema() == (100, 100)
    assert_srgb(image)


def test_a_palette_image_has_its_palette_converted(client, store):
    """A P3 palette PNG as GIF: the entries change, the indices stay."""
    image = fetch(client, f"/storage/{store(p3_png('P'))}.gif")
    assert image.mode == "P"
    assert_srgb(image)


def test_every_frame_of_an_animation_is_converted(client, store):
    """An APNG with a P3 profile as GIF: the later frames are converted too."""
    first, second = stripes(), stripes().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buffer = io.BytesIO()
    first.save(buffer, "PNG", save_all=True, append_images=[second],
               duration=100, icc_profile=display_p3_profile())
    gif = fetch(client, f"/storage/{store(buffer.getvalue())}.gif")
    frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(gif)]
    assert len(frames) == 2
    assert_srgb(frames[0])
    assert_srgb(frames[1].transpose(Image.Transpose.FLIP_LEFT_RIGHT))


def test_an_srgb_profile_is_only_dropped(client, store):
    """icc=srgb on an sRGB image: the pixels stay exactly, the profile goes."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    ref = store(encode(stripes(), "PNG", icc_profile=srgb))
    image = fetch(client, f"/storage/{ref}.png?icc=srgb")
    assert not image.info.get("icc_profile")
    assert image.tobytes() == stripes().tobytes()


def test_a_gray_result_drops_the_rgb_profile(client, store):
    image = fetch(client, f"/storage/{store(p3_png())}.png?grayscale&icc=srgb")
    assert image.mode == "L"
    assert not image.info.get("icc_profile")


# Printing inks as sRGB colours (ISO coated cyan, magenta, yellow and a warm black),
# and what the CMYK test profile prints for some CMYK levels: an ink alone is its
# colour, inks together multiply (cyan x magenta: 0 x 236, 158 x 0, 224 x 140 / 255).
INKS = {"C": (0, 158, 224), "M": (236, 0, 140), "Y": (255, 242, 0), "K": (35, 31, 32)}
CMYK_TO_SRGB = {
    (255, 0, 0, 0): (0, 158, 224),
    (0, 255, 0, 0): (236, 0, 140),
    (0, 0, 255, 0): (255, 242, 0),
    (0, 0, 0, 255): (35, 31, 32),
    (255, 255, 0, 0): (0, 0, 123),
    (0, 0, 0, 0): (255, 255, 255),
}
# The profile's corners are 8-bit L*a*b*: they are off by up to half a level.
PRINTED = 1.5
# Linear-light grey levels and the sRGB levels of the same light.
LINEAR_TO_SRGB = {64: 137, 128: 188, 255: 255}


def cmyk_tiff() -> bytes:
    """One stripe per colour of CMYK_TO_SRGB, with the CMYK test profile."""
    image = Image.new("CMYK", (STRIPE * len(CMYK_TO_SRGB), STRIPE))
    for index, inks in enumerate(CMYK_TO_SRGB):
        image.paste(inks, (index * STRIPE, 0, (index + 1) * STRIPE, STRIPE))
    return encode(image, "TIFF", icc_profile=cmyk_profile(INKS))


def assert_printed(image: Image.Image) -> None:
    for index, expected in enumerate(CMYK_TO_SRGB.values()):
        shown = image.convert("RGB").getpixel((index * STRIPE + STRIPE // 2, 2))
        assert delta_e(shown, expected) < PRINTED, (index, shown, expected)


def grey_png(mode: str = "L") -> bytes:
    image = Image.new("L", (STRIPE * len(LINEAR_TO_SRGB), STRIPE))
    for index, level in enumerate(LINEAR_TO_SRGB):
        image.paste(level, (index * STRIPE, 0, (index + 1) * STRIPE, STRIPE))
    if mode == "LA":
        image.putalpha(100)
    return encode(image, "PNG", icc_profile=linear_grey_profile())


def grey_levels(image: Image.Image) -> list[int]:
    return [image.getpixel((index * STRIPE + 2, 2))[0] if image.mode == "LA"
            else image.getpixel((index * STRIPE + 2, 2))
            for index in range(len(LINEAR_TO_SRGB))]


@pytest.mark.parametrize("ext", ["png", "webp", "avif", "gif", "bmp"])
def test_a_cmyk_image_shows_its_inks_where_the_target_has_no_cmyk(client, store, ext):
    """CMYK into a format without CMYK: converted by its profile, not inverted."""
    image = fetch(client, f"/storage/{store(cmyk_tiff())}.{ext}?q=100&lossless")
    assert not image.info.get("icc_profile")
    assert_printed(image)


@pytest.mark.parametrize("ext", ["jpg", "tif"])
def test_a_cmyk_image_keeps_its_profile_where_the_target_has_cmyk(client, store, ext):
    image = fetch(client, f"/storage/{store(cmyk_tiff())}.{ext}?q=100")
    assert image.mode == "CMYK"
    assert image.info.get("icc_profile") == cmyk_profile(INKS)


@pytest.mark.parametrize("ext", ["jpg", "tif"])
def test_icc_srgb_converts_a_cmyk_image(client, store, ext):
    image = fetch(client, f"/storage/{store(cmyk_tiff())}.{ext}?icc=srgb&q=100")
    assert image.mode == "RGB"
    assert not image.info.get("icc_profile")
    assert_printed(image)


@pytest.mark.parametrize("ext, query", [("gif", ""), ("png", "icc=srgb")])
def test_a_grey_image_is_converted_by_its_profile(client, store, ext, query):
    """Linear grey levels become the sRGB levels of the same light; still grey."""
    image = fetch(client, f"/storage/{store(grey_png())}.{ext}?{query}")
    assert not image.info.get("icc_profile")
    assert [level for level in grey_levels(image.convert("L"))] == list(
        LINEAR_TO_SRGB.values()
    )


def test_a_grey_image_keeps_its_profile_by_default(client, store):
    image = fetch(client, f"/storage/{store(grey_png())}.png")
    assert image.mode == "L"
    assert image.info.get("icc_profile") == linear_grey_profile()
    assert grey_levels(image) == list(LINEAR_TO_SRGB)


def test_a_grey_image_keeps_its_alpha_through_the_conversion(client, store):
    image = fetch(client, f"/storage/{store(grey_png('LA'))}.png?icc=srgb")
    assert image.mode == "LA"
    assert image.getchannel("A").getextrema() == (100, 100)
    assert grey_levels(image) == list(LINEAR_TO_SRGB.values())
