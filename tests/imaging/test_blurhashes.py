"""The numpy BlurHash encoder gives the reference encoder's hash (blurhash-python)."""

import random
import warnings

import blurhash
import pytest
from PIL import Image, ImageFilter

from progimage.imaging import blurhashes


def _photo_like(seed: int) -> Image.Image:
    """A 32x24 blurred noise image: the size of the sample an upload's hash uses."""
    rnd = random.Random(seed)
    noise = Image.frombytes("RGB", (32, 24), rnd.randbytes(32 * 24 * 3))
    return noise.filter(ImageFilter.GaussianBlur(2))


def _reference(image: Image.Image, x: int, y: int) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its Image.getdata
        return blurhash.encode(image.copy(), x, y)


@pytest.mark.parametrize("components", [(4, 3), (3, 4), (1, 1), (9, 9), (1, 5)])
@pytest.mark.parametrize("seed", range(5))
def test_the_hash_is_the_reference_encoders(seed, components):
    image = _photo_like(seed)
    assert blurhashes.encode(image, *components) == _reference(image, *components)


def test_a_known_image_has_its_known_hash():
    """A left-to-right ramp from black to white: the hash written down, and
    decoding it gives a dark left edge and a light right edge."""
    ramp = Image.linear_gradient("L").rotate(90).resize((32, 24)).convert("RGB")
    hash_ = blurhashes.encode(ramp, 4, 3)
    assert hash_ == _reference(ramp, 4, 3)
    assert hash_ == "L#HetW00xuWBofWBj[fQfQfQfQfQ"
    decoded = blurhash.decode(hash_, 32, 24)
    assert decoded.getpixel((0, 12)) == (0, 0, 0)
    assert decoded.getpixel((31, 12)) == (229, 229, 229)


def test_a_flat_image_has_no_ac_and_its_colour():
    image = Image.new("RGB", (20, 10), (200, 100, 50))
    assert blurhashes.encode(image, 4, 3) == _reference(image, 4, 3)
    assert blurhashes.mean_colour(image) == (200, 100, 50)


def test_mean_colour_averages_each_band():
    image = Image.new("RGB", (2, 1), (0, 10, 255))
    image.putpixel((1, 0), (3, 20, 0))
    assert blurhashes.mean_colour(image) == (1.5, 15, 127.5)


@pytest.mark.parametrize("components", [(0, 3), (4, 10)])
def test_components_outside_1_to_9_are_refused(components):
    with pytest.raises(ValueError, match="1-9"):
        blurhashes.encode(Image.new("RGB", (8, 8)), *components)


def test_only_rgb_is_hashed():
    with pytest.raises(ValueError, match="RGB"):
        blurhashes.encode(Image.new("L", (8, 8)), 4, 3)
