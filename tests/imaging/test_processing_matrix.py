"""Property: every image mode x every option x a sample of targets converts or is
refused with a client error, and the result has the size the options promise.

``PROGIMAGE_HYPOTHESIS_EXAMPLES`` sets the number of examples (``make attack`` runs
many more) and ``PROGIMAGE_HYPOTHESIS_MAX_SIDE`` the largest image side drawn.
"""

import io
import os
import random

import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st
from PIL import Image

from helpers import (
    cmyk_profile, decode, display_p3_profile, encode, largest_image,
    linear_grey_profile, upload,
)
from progimage.imaging.converter import convert, convert_image, watermark_source
from progimage.web.errors import STATUS_BY_ERROR
from progimage.exceptions import ServiceError
from progimage.imaging.formats import FormatRegistry
from progimage.options import (
    FITS, FLIPS, GRAVITIES, ICC_CHOICES, PARAMETERS, parse,
)

EXAMPLES = int(os.environ.get("PROGIMAGE_HYPOTHESIS_EXAMPLES", "150"))
MAX_SIDE = int(os.environ.get("PROGIMAGE_HYPOTHESIS_MAX_SIDE", "90"))
MAX_PIXELS = 400_000

# Every mode Pillow can hold an image in.
MODES = (
    "1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
    "LAB", "HSV", "I", "I;16", "I;16B", "I;16L", "F",
)
# A sample of targets: the common web formats, deep and bi-level ones, icons, pages.
TARGETS = (
    "png", "jpg", "webp", "gif", "tif", "bmp", "avif", "pbm", "pgm", "ppm", "pnm",
    "pfm", "ico", "icns", "pdf", "tga", "qoi", "xbm", "pcx", "sgi", "jp2",
)
# Targets that keep the processed size as it is (icons choose their own sizes, and
# Pillow cannot read PDF back).
SIZE_KEEPING = frozenset(TARGETS) - {"ico", "icns", "pdf"}
# Right angles turn exactly (swapping sides or not); free angles enlarge the canvas.
RIGHT_ANGLES = {"90": True, "270": True, "180": False, "-90.0000001": True}
HTTP_CLIENT_ERRORS = frozenset(range(400, 500))
# Pillow's ICNS writer always makes every icon size up to 1024x1024 (a fixed cost).
FIXED_SIZE_ENCODERS = frozenset({"icns"})

REGISTRY = FormatRegistry.from_pillow()
PROFILES = (
    display_p3_profile(), linear_grey_profile(),
    cmyk_profile({"C": (0, 160, 220), "M": (230, 0, 140), "Y": (255, 240, 0),
                  "K": (30, 30, 30)}),
)
# The watermark every ``watermark=`` example lays over: half transparent, tall.
WATERMARK_REF = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
WATERMARK = encode(Image.new("RGBA", (7, 30), (255, 0, 0, 128)))


@st.composite
def images(draw) -> Image.Image:
    """An image of any mode and size from 1x1, with random samples."""
    mode = draw(st.sampled_from(MODES))
    size = (draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE)))
    noise = random.Random(draw(st.integers(0, 2**32)))
    length = len(Image.new(mode, size).tobytes())
    image = Image.frombytes(mode, size, noise.randbytes(length))
    if mode == "F":
        # Random bytes make NaN and infinity too; a file stores them as well.
        image = image if draw(st.booleans()) else image.point(lambda v: v / 2**100)
    if mode == "P":
        image.putpalette(noise.randbytes(768))
        image.info["transparency"] = draw(
            st.sampled_from([None, 0, bytes(range(0, 256, 16))])
        )
        if image.info["transparency"] is None:
            del image.info["transparency"]
    if draw(st.booleans()):
        # An RGB, CMYK or grey profile, whatever the mode: converted or dropped.
        image.info["icc_profile"] = draw(st.sampled_from(PROFILES))
    return image


# What the matrix draws for each parameter of options.PARAMETERS; the choices of
# enumerated ones come from options' own tables, so a new value is drawn as it comes.
# wm_gravity draws the gravities it refuses too (a 400, never a 500).
STRATEGIES = {
    "w": st.integers(1, 120).map(str),
    "h": st.integers(1, 120).map(str),
    "fit": st.sampled_from(FITS),
    "trim": st.sampled_from(["0", "30", "255"]),
    "pad": st.sampled_from(["0,0,0,0", "1,2,3,4", "0,90,0,0", "700,0,700,0"]),
    "gravity": st.sampled_from(GRAVITIES),
    "focus": st.sampled_from(["0,0", "0.5,0.5", "1,0.25", "0.999,1"]),
    "dpr": st.sampled_from(["1", "1.5", "2", "1.333"]),
    "crop": st.tuples(
        st.integers(0, 20), st.integers(0, 20),
        st.integers(1, 60), st.integers(1, 60),
    ).map(lambda box: ",".join(map(str, box))),
    "rotate": st.sampled_from(["90", "180", "270", "-90.0000001", "33.3", "1"]),
    "flip": st.sampled_from(sorted(FLIPS)),
    "grayscale": st.just("1"),
    "sepia": st.just("1"),
    "blur": st.sampled_from(["0.3", "2", "0.004"]),
    "brightness": st.sampled_from(["0", "0.5", "1", "10"]),
    "contrast": st.sampled_from(["0", "1.5", "0.001"]),
    "saturation": st.sampled_from(["0", "2.5"]),
    "gamma": st.sampled_from(["0.01", "2.2", "0.004"]),
    "pixelate": st.sampled_from(["2", "7", "1000", "1"]),
    "sharpen": st.sampled_from(["0.5", "3"]),
    "mask": st.sampled_from(["circle", "rounded:3", "rounded:500"]),
    "watermark": st.just(WATERMARK_REF),
    "wm_gravity": st.sampled_from(GRAVITIES),
    "wm_offset": st.sampled_from(["0,0", "3,-2", "-500,500", "16383,0"]),
    "wm_scale": st.sampled_from(["0.01", "0.5", "1"]),
    "wm_opacity": st.sampled_from(["0", "0.33", "1"]),
    "wm_tile": st.just("1"),
    "q": st.integers(1, 100).map(str),
    "lossless": st.just("1"),
    "max_bytes": st.sampled_from(["1", "700", "5000", "999999999"]),
    "bg": st.sampled_from(["f00", "00ff0080", "0000"]),
    "strip": st.just("1"),
    "icc": st.sampled_from(ICC_CHOICES),
    "orient": st.just("0"),
}
# Parameters of options.PARAMETERS the matrix does not draw, each with the reason.
LEFT_OUT: dict[str, str] = {}


@st.composite
def queries(draw) -> str:
    """A query string with any subset of the processing options."""
    names = draw(st.sets(st.sampled_from(sorted(STRATEGIES)), max_size=6))
    return "&".join(f"{name}={draw(STRATEGIES[name])}" for name in sorted(names))


def query_options(query: str):
    """Parse a query string the way Flask hands it over."""
    pairs = dict(part.split("=", 1) for part in query.split("&") if part)
    return parse({name: [value] for name, value in pairs.items()})


def promised_size(size: tuple[int, int], query: str) -> tuple[int, int] | None:
    """The size the options promise for an image of ``size``, computed here from the
    README's rules; None where a free rotation decides it."""
    given = dict(part.split("=", 1) for part in query.split("&") if part)
    width, height = size
    if "crop" in given:
        x, y, width, height = map(int, given["crop"].split(","))
    dpr = round(float(given.get("dpr", 1)), 2)  # the README: 2 decimals
    box_w = round(int(given["w"]) * dpr) if "w" in given else None
    box_h = round(int(given["h"]) * dpr) if "h" in given else None
    fit = given.get("fit", "contain")
    if "trim" in given:
        return None  # the image's borders decide
    if box_w and box_h and fit in ("cover", "fill", "pad"):
        width, height = box_w, box_h
    elif box_w or box_h:
        scale = min(s / whole for s, whole in ((box_w, width), (box_h, height)) if s)
        if fit == "inside":
            scale = min(scale, 1.0)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    angle = given.get("rotate")
    if angle is not None and angle not in RIGHT_ANGLES:
        return None
    if RIGHT_ANGLES.get(angle):
        width, height = height, width
    top, right, bottom, left = map(int, given.get("pad", "0,0,0,0").split(","))
    return width + left + right, height + top + bottom


def check(image: Image.Image, query: str, extension: str) -> None:
    """Convert; a refusal must be a client error, a result must have its size, and
    no image on the way may be above the pixel limit."""
    target = REGISTRY.for_extension(extension)
    mark = watermark_source(WATERMARK, REGISTRY, MAX_PIXELS)
    try:
        with largest_image() as largest:
            options = query_options(query)
            data = convert_image(
                image, REGISTRY.for_name("TIFF"), target, MAX_PIXELS, options,
                mark=mark if options.watermark else None,
            )
    except ServiceError as error:
        assert STATUS_BY_ERROR[type(error)] in HTTP_CLIENT_ERRORS, error.detail
        return
    finally:
        if extension not in FIXED_SIZE_ENCODERS:
            assert largest[0] <= MAX_PIXELS
    expected = promised_size(image.size, query)
    if extension in SIZE_KEEPING and expected is not None:
        assert decode(data).size == expected


def test_the_matrix_draws_every_parameter():
    """A parameter added to options.PARAMETERS is drawn, or left out with a reason."""
    assert set(STRATEGIES) | set(LEFT_OUT) == set(PARAMETERS)
    assert not set(STRATEGIES) & set(LEFT_OUT)
    assert all(LEFT_OUT.values())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(
    max_examples=EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(image=images(), query=queries(), extension=st.sampled_from(TARGETS))
def test_every_mode_and_option_converts_or_is_refused(image, query, extension):
    """No mode, option or target leads to an unexpected error."""
    note(f"{image.mode} {image.size} {image.info} ?{query} -> .{extension}")
    check(image, query, extension)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("query", [
    "w=40", "w=7&h=90&fit=cover", "blur=2&rotate=33",
    "w=90&h=7&fit=cover&gravity=smart", "trim=9&w=30&h=20&fit=pad&pad=1,2,3,4",
    "w=7&h=90&fit=cover&gravity=face", "w=50&h=50&fit=cover&focus=0.9,0.1&icc=srgb",
    "brightness=1.2&contrast=0.8&saturation=2&gamma=2.2", "pixelate=7&w=50",
    f"w=50&watermark={WATERMARK_REF}&wm_scale=0.3&wm_opacity=0.5&wm_tile=1",
    "w=50&max_bytes=1", "w=50&max_bytes=99999",
])
def test_each_mode_is_resized_and_filtered(mode, query):
    """Every mode goes through resizing (with reduction) and the filters."""
    base = {"La": "LA", "RGBa": "RGBA", "LAB": "RGB", "HSV": "RGB"}.get(mode, mode)
    image = Image.linear_gradient("L").resize((300, 200)).convert(base)
    check(image.convert(mode), query, "png")


@pytest.mark.parametrize("mode, fmt", [
    ("I;16", "PNG"), ("I;16", "TIFF"), ("I;16B", "TIFF"), ("F", "TIFF"),
    ("I", "TIFF"), ("LAB", "TIFF"), ("CMYK", "JPEG"), ("YCbCr", "TIFF"),
])
@pytest.mark.parametrize("extension", ["png", "jpg", "tif"])
def test_deep_files_are_resized(mode, fmt, extension):
    """Stored 16-bit, float, LAB and CMYK files shrink to the width asked for."""
    stored = io.BytesIO()
    Image.linear_gradient("L").resize((400, 300)).convert(mode).save(stored, fmt)
    target = REGISTRY.for_extension(extension)
    stored.seek(0)
    result = convert(stored, target, REGISTRY, MAX_PIXELS, query_options("w=40"))
    assert decode(result).size == (40, 30)


@pytest.mark.parametrize("fmt, mode", [("PNG", "I;16"), ("TIFF", "I;16")])
def test_16_bit_upload_resizes_over_http(client, fmt, mode):
    """``GET <ref>.png?w=40`` of a 16-bit greyscale image answers a 40 px image."""
    stored = io.BytesIO()
    Image.linear_gradient("L").resize((400, 300)).convert(mode).save(stored, fmt)
    ref = upload(client, stored.getvalue()).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.png?w=40")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert decode(response.data).size == (40, 30)


@pytest.mark.parametrize("size", [(1, 1), (1, 5), (2, 9), (400, 1)])
@pytest.mark.parametrize("query", ["w=5&h=1", "w=1&h=5", "w=2&h=2"])
def test_smart_gravity_on_tiny_images(size, query):
    """Images too small for an edge filter are cut in the middle, not refused."""
    check(Image.new("RGB", size), f"{query}&fit=cover&gravity=smart", "png")
