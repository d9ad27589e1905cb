"""gravity=face: fit=cover keeps the face of a real photo, where the detail is not."""

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from helpers import corpus_image, encode, fetch
from progimage.exceptions import InvalidOptions
from progimage.imaging import faces
from progimage.imaging.converter import convert_image
from progimage.imaging.formats import FormatRegistry
from progimage.options import parse

SIDE = 128
# The mean difference per channel (0-255) below which two crops show the same thing.
SAME = 12


def portrait_beside_detail() -> tuple[Image.Image, Image.Image]:
    """The corpus portrait (Grace Hopper, 128 x 128) at the left of a 400 px wide
    canvas whose right end is a fine checkerboard: more edge energy than the face,
    so smart cuts there and center in between. Also the portrait itself."""
    portrait = Image.open(io.BytesIO(corpus_image("hopper.jpg"))).convert("RGB")
    canvas = Image.new("RGB", (400, SIDE), (128, 128, 128))
    canvas.paste(portrait, (0, 0))
    board = Image.new("RGB", (SIDE, SIDE))
    board.putdata([
        (255, 255, 255) if (x // 2 + y // 2) % 2 else (0, 0, 0)
        for y in range(SIDE) for x in range(SIDE)
    ])
    canvas.paste(board, (400 - SIDE, 0))
    return canvas, portrait


def difference(first: Image.Image, second: Image.Image) -> float:
    return max(ImageStat.Stat(ImageChops.difference(first, second)).mean)


@pytest.fixture(name="cv2")
def _cv2():
    return pytest.importorskip("cv2", reason="the face extra is not installed")


@pytest.mark.usefixtures("cv2")
def test_face_keeps_the_face_where_smart_keeps_the_detail(client, store):
    canvas, portrait = portrait_beside_detail()
    ref = store(encode(canvas))
    cut = "w=128&h=128&fit=cover"
    face = fetch(client, f"/storage/{ref}.png?{cut}&gravity=face").convert("RGB")
    smart = fetch(client, f"/storage/{ref}.png?{cut}&gravity=smart").convert("RGB")
    assert difference(face, portrait) < SAME
    assert difference(smart, portrait) > 2 * SAME


@pytest.mark.usefixtures("cv2")
def test_without_a_face_it_cuts_as_smart_does(client, store):
    """A picture with no face (a checkerboard at one end) is cut where smart cuts."""
    canvas, _ = portrait_beside_detail()
    canvas.paste((128, 128, 128), (0, 0, SIDE, SIDE))
    ref = store(encode(canvas))
    cut = "w=128&h=128&fit=cover"
    face = fetch(client, f"/storage/{ref}.png?{cut}&gravity=face")
    smart = fetch(client, f"/storage/{ref}.png?{cut}&gravity=smart")
    assert face.tobytes() == smart.tobytes()


def test_without_the_detector_it_is_refused(monkeypatch):
    """A server without the extra answers 400 naming what to install."""
    def missing():
        raise InvalidOptions(faces.MISSING)

    monkeypatch.setattr(faces, "_cascade", missing)
    registry = FormatRegistry.from_pillow()
    with pytest.raises(InvalidOptions, match=r"progimage\[face\]"):
        convert_image(
            Image.new("RGB", (40, 20)), registry.for_name("PNG"),
            registry.for_name("PNG"), 10_000,
            parse({"w": ["10"], "h": ["10"], "fit": ["cover"], "gravity": ["face"]}),
        )
