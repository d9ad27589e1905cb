"""gravity= and focus= for fit=cover, through HTTP: which part of the image is kept."""

import io

import pytest
from PIL import Image, ImageChops, ImageFilter, ImageStat

from helpers import corpus_image, encode, fetch
from progimage.imaging import gravity

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
GREY = (128, 128, 128)


def colours(image: Image.Image) -> set:
    """The colours that cover a tenth of the image or more: Lanczos blends a few
    pixels where colours meet (and reaches a little past a cut), these are not."""
    rgb = image.convert("RGB")
    pixels = rgb.width * rgb.height
    return {
        colour for count, colour in rgb.getcolors(maxcolors=pixels)
        if count * 10 >= pixels
    }


def cornered(size: tuple[int, int]) -> Image.Image:
    """Grey, with a red block in the top left corner and a blue one in the bottom
    right, each a third of the width and of the height."""
    width, height = size
    image = Image.new("RGB", size, GREY)
    image.paste(RED, (0, 0, width // 3, height // 3))
    image.paste(BLUE, (width - width // 3, height - height // 3, width, height))
    return image


# A wide image cut to a square keeps a third of its width; a tall one, of its height.
@pytest.mark.parametrize("source, size, kept", [
    ((300, 90), "w=30&h=30", {
        "center": {GREY}, "n": {GREY}, "s": {GREY},
        "w": {RED, GREY}, "nw": {RED, GREY}, "sw": {RED, GREY},
        "e": {BLUE, GREY}, "ne": {BLUE, GREY}, "se": {BLUE, GREY},
    }),
    ((90, 300), "w=30&h=30", {
        "center": {GREY}, "w": {GREY}, "e": {GREY},
        "n": {RED, GREY}, "nw": {RED, GREY}, "ne": {RED, GREY},
        "s": {BLUE, GREY}, "sw": {BLUE, GREY}, "se": {BLUE, GREY},
    }),
])
def test_compass_gravity_keeps_its_side(client, store, source, size, kept):
    """Each compass point keeps the corner block on its side, and only there."""
    ref = store(encode(cornered(source)))
    for name, expected in kept.items():
        image = fetch(client, f"/storage/{ref}.png?{size}&fit=cover&gravity={name}")
        assert image.size == (30, 30)
        assert colours(image) == expected, name


def stripes(colour_list: list, width: int = 100, height: int = 100) -> Image.Image:
    """Vertical stripes, ``width`` wide each, in the colours given."""
    image = Image.new("RGB", (width * len(colour_list), height))
    for index, colour in enumerate(colour_list):
        image.paste(colour, (index * width, 0, (index + 1) * width, height))
    return image


@pytest.mark.parametrize("focus, expected", [
    ("0.875,0.5", {YELLOW}),  # the window centred on the last stripe
    ("0.375,0", {GREEN}),
    ("0,0", {RED}),  # kept inside the image: the first stripe, not half of it
    ("1,1", {YELLOW}),
])
def test_focus_centres_the_window(client, store, focus, expected):
    """focus=x,y centres the cut on that point, kept inside the image."""
    ref = store(encode(stripes([RED, GREEN, BLUE, YELLOW])))
    image = fetch(client, f"/storage/{ref}.png?w=20&h=20&fit=cover&focus={focus}")
    assert image.size == (20, 20)
    assert colours(image) == expected


def subject_on_background(
    position: tuple[int, int], size: tuple[int, int] = (512, 160)
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A real photo (hopper, 128x128) off-centre on a blurred photo background
    (smooth, as an out-of-focus background is); the subject's box."""
    background = Image.open(io.BytesIO(corpus_image("pil_sample_rgb.jpg")))
    canvas = background.convert("RGB").resize(size).filter(ImageFilter.GaussianBlur(8))
    subject = Image.open(io.BytesIO(corpus_image("hopper.jpg"))).convert("RGB")
    canvas.paste(subject, position)
    return canvas, (*position, position[0] + 128, position[1] + 128)


def kept_fraction(box: tuple, subject: tuple) -> float:
    """How much of the subject's area the window keeps."""
    width = min(box[2], subject[2]) - max(box[0], subject[0])
    height = min(box[3], subject[3]) - max(box[1], subject[1])
    area = (subject[2] - subject[0]) * (subject[3] - subject[1])
    return max(0, width) * max(0, height) / area


@pytest.mark.parametrize("size, position, target", [
    ((512, 160), (20, 16), (160, 160)),  # subject on the left
    ((512, 160), (370, 20), (160, 160)),  # on the right
    ((160, 512), (10, 360), (160, 160)),  # at the bottom of a tall image
    ((640, 160), (480, 16), (300, 160)),  # a wider window
])
def test_smart_keeps_an_off_centre_subject(client, store, size, position, target):
    """Judged by how much of the subject the window keeps: the centre cut keeps
    less than half of it (none, mostly), smart keeps all of it; and the result
    shows the subject (its pixels match the photo's)."""
    image, subject = subject_on_background(position, size)
    centre = gravity.cover_box(image, target, "center", None)
    smart = gravity.cover_box(image, target, "smart", None)
    assert kept_fraction(centre, subject) < 0.5
    assert kept_fraction(smart, subject) == 1.0
    ref = store(encode(image))
    query = f"w={target[0]}&h={target[1]}&fit=cover&gravity=smart"
    result = fetch(client, f"/storage/{ref}.png?{query}").convert("RGB")
    cut = image.crop(tuple(round(edge) for edge in smart))
    assert result.size == target
    difference = ImageStat.Stat(ImageChops.difference(result, cut)).mean
    assert max(difference) < 2


def test_smart_cuts_an_even_image_in_the_middle(client, store):
    """Where every window has the same detail (a smooth ramp has none), smart
    cuts as center does: the middle third of a black-to-white ramp."""
    ramp = Image.linear_gradient("L").rotate(90).resize((300, 100))
    ref = store(encode(ramp))
    image = fetch(client, f"/storage/{ref}.png?w=30&h=30&fit=cover&gravity=smart")
    assert 120 < ImageStat.Stat(image).mean[0] < 136  # the left third: about 42


def test_smart_cuts_every_frame_of_an_animation_alike(client, store):
    """The window is chosen on the first frame and kept: the subject does not
    jump, even when a later frame has its detail elsewhere."""
    frames = []
    for detailed in (0, 2, 1):
        frame = Image.new("RGB", (300, 100), GREY)  # each frame differs
        for x in range(detailed * 100, detailed * 100 + 100, 4):
            frame.paste(RED, (x, 0, x + 2, 100))  # fine stripes: much edge energy
        frames.append(frame)
    data = io.BytesIO()
    frames[0].save(data, "GIF", save_all=True, append_images=frames[1:], duration=50)
    ref = store(data.getvalue())
    response = client.get(f"/storage/{ref}.gif?w=10&h=10&fit=cover&gravity=smart")
    assert response.status_code == 200
    animation = Image.open(io.BytesIO(response.data))
    away_from_grey = []  # per frame: the mean distance from grey
    for index in range(animation.n_frames):
        animation.seek(index)
        frame = animation.convert("RGB")
        difference = ImageChops.difference(frame, Image.new("RGB", frame.size, GREY))
        away_from_grey.append(max(ImageStat.Stat(difference).mean))
    assert len(away_from_grey) == 3
    assert away_from_grey[0] > 30  # the first frame's red detail, on the left
    # The same window on the later frames: no jump to their detail (the GIF
    # palette moves grey by a few levels, Lanczos blends a little red in).
    assert away_from_grey[1] < 5 and away_from_grey[2] < 5
