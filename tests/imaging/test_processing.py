"""Operations on read, through HTTP: decoded sizes, modes and pixels of the results."""

import io

import pytest
from PIL import Image, ImageChops, ImageCms

from helpers import (
    app_client, corpus_image, decode, encode, fetch, make_image, upload,
    with_orientation,
)
from progimage.config import Settings

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def quadrants(size: tuple[int, int] = (64, 32), mode: str = "RGB") -> Image.Image:
    """Red top left, green top right, blue bottom left, white bottom right."""
    width, height = size
    image = Image.new(mode, size)
    for colour, box in (
        (RED, (0, 0, width // 2, height // 2)),
        (GREEN, (width // 2, 0, width, height // 2)),
        (BLUE, (0, height // 2, width // 2, height)),
        (WHITE, (width // 2, height // 2, width, height)),
    ):
        image.paste(colour, box)
    return image


def corner_colours(image: Image.Image) -> tuple:
    """The colours at the centres of the four quadrants: TL, TR, BL, BR."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    points = [(width // 4, height // 4), (3 * width // 4, height // 4),
              (width // 4, 3 * height // 4), (3 * width // 4, 3 * height // 4)]
    return tuple(rgb.getpixel(point) for point in points)


def near(actual, expected, tolerance: int = 40) -> bool:
    """Colours equal within a tolerance per channel (JPEG is lossy)."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def upright(image: Image.Image) -> bool:
    """Whether the quadrant image shows as drawn (red top left, and so on)."""
    return all(
        near(actual, expected)
        for actual, expected in zip(
            corner_colours(image), (RED, GREEN, BLUE, WHITE), strict=True
        )
    )


@pytest.mark.parametrize("query, size", [
    ("w=50", (50, 25)),
    ("h=50", (100, 50)),
    ("w=50&h=50", (50, 25)),
    ("w=50&h=50&fit=contain", (50, 25)),
    ("w=50&h=50&fit=cover", (50, 50)),
    ("w=50&h=50&fit=fill", (50, 50)),
    ("w=400", (400, 200)),
    ("w=400&fit=inside", (200, 100)),
    ("w=40&h=40&fit=inside", (40, 20)),
    ("w=50&dpr=2", (100, 50)),
    ("w=30&h=30&fit=cover&dpr=3", (90, 90)),
])
def test_resize(client, store, query, size):
    """w, h, fit and dpr give the documented sizes, the aspect kept unless fill."""
    ref = store(make_image("PNG", size=(200, 100)))
    image = fetch(client, f"/storage/{ref}.png?{query}")
    assert (image.format, image.size, image.mode) == ("PNG", size, "RGB")


def test_cover_keeps_the_centre(client, store):
    """fit=cover cuts the middle of the image, not a side."""
    stripes = Image.new("RGB", (300, 100), RED)
    stripes.paste(GREEN, (100, 0, 200, 100))
    stripes.paste(BLUE, (200, 0, 300, 100))
    ref = store(encode(stripes))
    image = fetch(client, f"/storage/{ref}.png?w=30&h=30&fit=cover")
    assert image.size == (30, 30)
    assert all(near(pixel, GREEN) for pixel in image.get_flattened_data())


@pytest.mark.parametrize("name, ext, size, fmt", [
    ("hopper.jpg", "jpg", (64, 64), "JPEG"),
    ("hopper.png", "webp", (64, 64), "WEBP"),
    ("hopper.tif", "png", (64, 64), "PNG"),
    ("clipboard.dib", "png", (64, 38), "PNG"),
])
def test_resize_corpus_images(client, store, name, ext, size, fmt):
    """Real images shrink to the asked width with their aspect ratio."""
    ref = store(corpus_image(name))
    image = fetch(client, f"/storage/{ref}.{ext}?w=64")
    assert (image.format, image.size) == (fmt, size)


def test_large_jpeg_thumbnail_has_exact_size(client, store):
    """Draft decoding of a big JPEG still gives the exact requested size."""
    ref = store(encode(quadrants((2000, 1500)), "JPEG"))
    image = fetch(client, f"/storage/{ref}?w=100")
    assert (image.format, image.size) == ("JPEG", (100, 75))
    assert upright(image)


def test_crop_cuts_before_resizing(client, store):
    """crop=x,y,w,h takes exactly those source pixels; resizing applies after."""
    source = make_image("PNG", size=(64, 48))
    ref = store(source)
    image = fetch(client, f"/storage/{ref}.png?crop=10,20,30,15")
    assert image.size == (30, 15)
    assert image.getpixel((0, 0)) == decode(source).getpixel((10, 20))
    assert fetch(client, f"/storage/{ref}.png?crop=10,20,30,15&w=60").size == (60, 30)


def test_crop_outside_the_image_is_400(client, store):
    """A crop reaching past the edge answers 400 naming crop."""
    ref = store(make_image("PNG", size=(64, 48)))
    response = client.get(f"/storage/{ref}.png?crop=50,0,20,10")
    assert response.status_code == 400
    assert "parameter 'crop'" in response.get_json()["detail"]


@pytest.mark.parametrize("query, size, corners", [
    ("rotate=90", (32, 64), (BLUE, RED, WHITE, GREEN)),
    ("rotate=180", (64, 32), (WHITE, BLUE, GREEN, RED)),
    ("rotate=270", (32, 64), (GREEN, WHITE, RED, BLUE)),
    ("rotate=-90", (32, 64), (GREEN, WHITE, RED, BLUE)),
    ("flip=h", (64, 32), (GREEN, RED, WHITE, BLUE)),
    ("flip=v", (64, 32), (BLUE, WHITE, RED, GREEN)),
    ("flip=hv", (64, 32), (WHITE, BLUE, GREEN, RED)),
    ("rotate=90&flip=h", (32, 64), (RED, BLUE, GREEN, WHITE)),
])
def test_right_angles_and_flips_are_exact(client, store, query, size, corners):
    """Quarter turns (clockwise) and flips move whole quadrants, pixel for pixel."""
    ref = store(encode(quadrants()))
    image = fetch(client, f"/storage/{ref}.png?{query}")
    assert image.size == size
    assert corner_colours(image) == corners
    assert len(image.getcolors()) == 4


@pytest.mark.parametrize("source_mode, query, ext, corner", [
    ("RGB", "rotate=45", "png", (255, 255, 255)),
    ("RGB", "rotate=45&bg=f00", "png", (255, 0, 0)),
    ("RGBA", "rotate=45", "png", (0, 0, 0, 0)),
    ("RGB", "rotate=30&bg=00ff0080", "png", (0, 255, 0, 128)),
    ("RGBA", "rotate=45", "jpg", (255, 255, 255)),
    ("RGBA", "rotate=45&bg=0000ff", "jpg", (0, 0, 255)),
])
def test_free_rotation_fills_corners(client, store, source_mode, query, ext, corner):
    """Other angles grow the canvas; the new corners take bg (or the default)."""
    ref = store(encode(Image.new(source_mode, (60, 60), (90, 90, 90, 255))))
    image = fetch(client, f"/storage/{ref}.{ext}?{query}")
    assert image.width > 80 and image.height > 80
    assert near(image.getpixel((0, 0)), corner, 8)
    assert near(image.getpixel((image.width // 2, image.height // 2))[:3], (90,) * 3, 8)


@pytest.mark.parametrize("name, ext, mode", [
    ("hopper.png", "png", "L"), ("hopper.jpg", "jpg", "L"),
    ("transparent.png", "png", "LA"), ("hopper.png", "webp", "RGB"),
])
def test_grayscale_channels_are_equal(client, store, name, ext, mode):
    """grayscale gives a gray mode where the format has one; R = G = B always."""
    ref = store(corpus_image(name))
    image = fetch(client, f"/storage/{ref}.{ext}?grayscale")
    assert image.mode == mode
    red, green, blue = image.convert("RGB").split()
    assert ImageChops.difference(red, green).getextrema()[1] <= 2
    assert ImageChops.difference(green, blue).getextrema()[1] <= 2


def test_sepia_tones_brown(client, store):
    """sepia makes every pixel warm: red >= green >= blue."""
    ref = store(corpus_image("hopper.png"))
    image = fetch(client, f"/storage/{ref}.png?sepia")
    assert image.mode == "RGB"
    pixels = list(image.get_flattened_data())
    assert all(r >= g >= b for r, g, b in pixels)
    assert any(r > b + 20 for r, g, b in pixels)


def halves(left: int, right: int) -> bytes:
    """A 40x20 gray image: the left half one level, the right half another."""
    image = Image.new("L", (40, 20), left)
    image.paste(right, (20, 0, 40, 20))
    return encode(image)


def test_blur_softens_an_edge(client, store):
    """blur=<sigma> turns a hard black/white edge into intermediate grays."""
    ref = store(halves(0, 255))
    image = fetch(client, f"/storage/{ref}.png?blur=3")
    assert image.size == (40, 20)
    assert 30 < image.getpixel((19, 10)) < 225 and 30 < image.getpixel((20, 10)) < 225
    assert image.getpixel((0, 10)) < 10


def test_sharpen_overshoots_an_edge(client, store):
    """sharpen=<amount> darkens the dark side and lightens the light side."""
    ref = store(halves(100, 150))
    image = fetch(client, f"/storage/{ref}.png?sharpen=2")
    assert image.getpixel((19, 10)) < 95 and image.getpixel((20, 10)) > 155
    assert image.getpixel((5, 10)) == 100


def test_circle_mask_makes_corners_transparent(client, store):
    """mask=circle keeps the centred circle and clears the corners."""
    ref = store(corpus_image("hopper.jpg"))
    image = fetch(client, f"/storage/{ref}.png?mask=circle")
    assert (image.mode, image.size) == ("RGBA", (128, 128))
    for corner in ((0, 0), (127, 0), (0, 127), (127, 127), (10, 10)):
        assert image.getpixel(corner)[3] == 0
    assert image.getpixel((64, 64))[3] == 255
    assert image.getpixel((64, 2))[3] == 255


@pytest.mark.parametrize("query, corner", [
    ("mask=circle", (255, 255, 255)),
    ("mask=circle&bg=000", (0, 0, 0)),
])
def test_mask_without_alpha_fills_with_bg(client, store, query, corner):
    """In a format without alpha the masked area becomes bg (white by default)."""
    ref = store(encode(Image.new("RGB", (60, 60), (200, 40, 40))))
    image = fetch(client, f"/storage/{ref}.jpg?{query}")
    assert image.mode == "RGB"
    assert near(image.getpixel((1, 1)), corner, 10)
    assert near(image.getpixel((30, 30)), (200, 40, 40), 10)


def test_rounded_mask_cuts_only_the_corners(client, store):
    """mask=rounded:<r> clears the corners and keeps the edges' middles."""
    ref = store(encode(Image.new("RGB", (80, 40), (10, 120, 200))))
    image = fetch(client, f"/storage/{ref}.webp?mask=rounded:12")
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((79, 39))[3] == 0
    assert image.getpixel((40, 0))[3] == 255 and image.getpixel((0, 20))[3] == 255
    assert image.getpixel((12, 12))[3] == 255


@pytest.mark.parametrize("mask_image", [
    Image.new("L", (10, 10), 0).crop((0, 0, 10, 10)),
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)),
], ids=["luminance", "alpha"])
def test_stored_image_as_mask(client, store, mask_image):
    """mask=<ref> uses another image's alpha (or luminance), stretched to fit."""
    mask_image = mask_image.copy()
    white = 255 if mask_image.mode == "L" else (0, 0, 0, 255)
    mask_image.paste(white, (5, 0, 10, 10))
    mask_ref = store(encode(mask_image))
    ref = store(encode(Image.new("RGB", (40, 20), (10, 120, 200))))
    image = fetch(client, f"/storage/{ref}.png?mask={mask_ref}")
    assert (image.mode, image.size) == ("RGBA", (40, 20))
    assert image.getpixel((2, 10))[3] == 0
    assert image.getpixel((37, 10)) == (10, 120, 200, 255)


def test_unknown_mask_reference_is_400(client, store):
    """A mask naming no stored image answers 400 naming mask."""
    ref = store(make_image())
    response = client.get(
        f"/storage/{ref}.png?mask=3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    )
    assert response.status_code == 400
    assert "parameter 'mask'" in response.get_json()["detail"]


def test_mask_is_decoded_in_the_converter_not_the_server(client, store, monkeypatch):
    """The server process decodes no pixels: with Pillow's ``load`` broken there,
    uploads are checked and a stored mask applied all the same."""
    mask = encode(Image.new("L", (10, 10), 255))
    original = encode(Image.new("RGB", (40, 20), (10, 120, 200)))
    with monkeypatch.context() as server:
        server.setattr(Image.Image, "load", _no_decoding_here)
        mask_ref, ref = store(mask), store(original)
        response = client.get(f"/storage/{ref}.png?mask={mask_ref}")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.data
    assert decode(body).getpixel((20, 10)) == (10, 120, 200, 255)


def _no_decoding_here(self):
    raise AssertionError("the server process decoded an image")


def test_mask_above_the_pixel_limit_is_422(tmp_path):
    """A stored mask above the pixel limit (stored before the limit was lowered)
    answers 422 naming the mask."""
    storage = str(tmp_path / "data")
    with app_client(Settings(storage=storage)) as roomy:
        mask_ref = upload(roomy, encode(Image.new("L", (200, 100)))).data.decode()
        ref = upload(roomy, make_image(size=(20, 10))).data.decode()
    with app_client(Settings(storage=storage, max_pixels=10_000)) as strict:
        response = strict.get(f"/storage/{ref}.png?mask={mask_ref}")
    assert response.status_code == 422
    assert "parameter 'mask'" in response.get_json()["detail"]


def test_damaged_mask_is_400(client, store):
    """A stored mask whose pixels cannot be decoded (a large BMP, checked only by
    its header at upload) answers 400 naming the mask."""
    data = encode(Image.new("L", (1500, 1400)), "BMP")
    mask_ref = store(data[: len(data) // 2])
    ref = store(make_image())
    response = client.get(f"/storage/{ref}.png?mask={mask_ref}")
    assert response.status_code == 400
    assert "parameter 'mask'" in response.get_json()["detail"]


def test_large_jpeg_mask_gives_the_same_shape(client, store):
    """A mask far larger than the result is shrunk on decoding and still masks
    the same half."""
    mask = Image.new("L", (2400, 1200), 0)
    mask.paste(255, (1200, 0, 2400, 1200))
    mask_ref = store(encode(mask, "JPEG"))
    ref = store(encode(Image.new("RGB", (40, 20), (10, 120, 200))))
    image = fetch(client, f"/storage/{ref}.png?mask={mask_ref}")
    assert image.getpixel((5, 10))[3] == 0
    assert image.getpixel((35, 10))[3] == 255


@pytest.mark.parametrize("ext", ["jpg", "webp", "avif"])
def test_quality_changes_size(client, store, ext):
    """q trades bytes for fidelity in lossy formats."""
    ref = store(corpus_image("hopper.png"))
    low = client.get(f"/storage/{ref}.{ext}?q=5").data
    high = client.get(f"/storage/{ref}.{ext}?q=95").data
    assert len(low) < len(high) / 2
    assert decode(low).size == decode(high).size == (128, 128)


def test_lossless_webp_keeps_every_pixel(client, store):
    """lossless writes WebP without changing a pixel."""
    source = make_image("PNG", size=(64, 48))
    ref = store(source)
    image = fetch(client, f"/storage/{ref}.webp?lossless")
    assert image.tobytes() == decode(source).tobytes()


def test_lossless_avif_keeps_every_pixel(client, store):
    """lossless writes AVIF without changing a pixel; q=30 changes many."""
    ref = store(corpus_image("hopper.png"))
    lossy = fetch(client, f"/storage/{ref}.avif?q=30").convert("RGB")
    best = fetch(client, f"/storage/{ref}.avif?lossless").convert("RGB")
    original = decode(corpus_image("hopper.png")).convert("RGB")
    assert best.tobytes() == original.tobytes()
    assert lossy.tobytes() != original.tobytes()


def test_bg_flattens_transparency(client, store):
    """A transparent pixel becomes bg in a format without alpha."""
    ref = store(encode(Image.new("RGBA", (10, 10), (255, 0, 0, 0))))
    image = fetch(client, f"/storage/{ref}.jpg?bg=00ff00")
    assert near(image.getpixel((5, 5)), GREEN, 10)


def exif_jpeg() -> bytes:
    """A JPEG with a camera make in EXIF, an sRGB ICC profile and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return make_image(
        "JPEG", size=(40, 30), exif=exif, icc_profile=profile, comment=b"hello"
    )


@pytest.mark.parametrize("ext", ["jpg", "webp", "png"])
def test_metadata_is_kept_by_default(client, store, ext):
    """Without strip, EXIF and the ICC profile survive the operations."""
    ref = store(exif_jpeg())
    image = fetch(client, f"/storage/{ref}.{ext}?w=20&rotate=30&mask=circle")
    assert image.getexif().get(0x010F) == "Camera"
    assert image.info.get("icc_profile")


@pytest.mark.parametrize("ext", ["jpg", "webp", "png"])
def test_strip_drops_exif_comments_and_the_profile(client, store, ext):
    """strip removes EXIF, comments and the ICC profile (its colours go into the
    pixels); with icc=keep the profile stays."""
    ref = store(exif_jpeg())
    image = fetch(client, f"/storage/{ref}.{ext}?strip")
    assert 0x010F not in image.getexif()
    assert "comment" not in image.info
    assert not image.info.get("icc_profile")
    kept = fetch(client, f"/storage/{ref}.{ext}?strip&icc=keep")
    assert 0x010F not in kept.getexif()
    assert kept.info.get("icc_profile")


def test_rgb_profile_is_not_attached_to_gray_output(client, store):
    """A colour profile that no longer fits (RGB profile, gray pixels) is dropped."""
    ref = store(exif_jpeg())
    image = fetch(client, f"/storage/{ref}.jpg?grayscale")
    assert image.mode == "L"
    assert not image.info.get("icc_profile")


# How each orientation stores an upright image: the inverse of what undoes it.
STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def oriented_jpeg(orientation: int) -> bytes:
    """The quadrant image stored as a camera would for this EXIF orientation."""
    upright = quadrants()
    method = STORED[orientation]
    stored = upright if method is None else upright.transpose(method)
    return encode(stored, "JPEG", quality=95, exif=with_orientation(orientation))


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("ext", ["", ".png"])
def test_exif_orientation_is_applied(client, store, orientation, ext):
    """Every orientation comes out upright, and the output says orientation 1."""
    ref = store(oriented_jpeg(orientation))
    image = fetch(client, f"/storage/{ref}{ext}?w=64")
    assert image.size == (64, 32)
    assert upright(image)
    assert image.getexif().get(0x0112, 1) == 1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_0_keeps_stored_pixels(client, store, orientation):
    """orient=0 leaves the pixels as stored, for every orientation (flips too,
    which keep the size): the same pixels as the JPEG decoded without turning."""
    data = oriented_jpeg(orientation)
    image = fetch(client, f"/storage/{store(data)}.png?orient=0").convert("RGB")
    stored = decode(data).convert("RGB")
    assert image.size == stored.size
    assert ImageChops.difference(image, stored).getextrema() == ((0, 0),) * 3


def test_orientation_before_draft_and_resize(client, store):
    """A big sideways JPEG is turned first, then fit: w applies to the upright width."""
    data = encode(quadrants((1200, 800)), "JPEG", exif=with_orientation(6))
    ref = store(data)
    image = fetch(client, f"/storage/{ref}.png?w=100")
    assert image.size == (100, 150)
    assert near(corner_colours(image)[0], BLUE)


@pytest.mark.parametrize("name, size", [
    ("hopper_orientation_6.jpg", (128, 128)), ("orientation_rectangle.jpg", (1, 2)),
])
def test_corpus_phone_photos_come_out_upright(client, store, name, size):
    """Real EXIF-rotated photos are turned; the non-square one swaps its sides."""
    ref = store(corpus_image(name))
    image = fetch(client, f"/storage/{ref}.png")
    assert image.size == size
    assert image.getexif().get(0x0112, 1) == 1


@pytest.mark.parametrize("name, ext, frames, query, size", [
    ("chi.gif", "gif", 31, "w=160", (160, 120)),
    ("chi.gif", "webp", 31, "rotate=90&grayscale", (240, 320)),
    ("delay.png", "png", 5, "crop=0,0,64,32&flip=h", (64, 32)),
    ("iss634.webp", "webp", 42, "w=100&blur=1", (100, 100)),
])
def test_animations_keep_frames_and_timing(
    client, store, name, ext, frames, query, size
):
    """Every frame is processed; the timeline and loop count survive.

    (Pillow merges identical consecutive frames and adds up their durations.)
    """
    data = corpus_image(name)
    ref = store(data)
    response = client.get(f"/storage/{ref}.{ext}?{query}")
    assert response.status_code == 200
    with Image.open(io.BytesIO(data)) as source, \
            Image.open(io.BytesIO(response.data)) as result:
        assert source.n_frames == frames
        assert result.n_frames > 1 and result.size == size
        assert result.info.get("loop") == source.info.get("loop")
        assert timeline(result) == timeline(source)


@pytest.mark.parametrize("ext, frames", [("webp", 4), ("gif", 4), ("png", 5)])
def test_apng_default_image_is_not_a_frame(client, store, ext, frames):
    """delay.png shows its first image only to viewers without animation: other
    formats get the four animated frames with their own durations; an APNG keeps the
    default image as such."""
    ref = store(corpus_image("delay.png"))
    response = client.get(f"/storage/{ref}.{ext}")
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.data)) as result:
        assert result.n_frames == frames
        assert bool(result.info.get("default_image")) == (ext == "png")
        durations = []
        for index in range(result.n_frames - 4, result.n_frames):
            result.seek(index)
            result.load()
            durations.append(result.info["duration"])
    assert durations == [500, 1000, 500, 1000]


def timeline(image: Image.Image) -> int:
    """The total duration of an animation, in milliseconds."""
    total = 0
    for index in range(image.n_frames):
        image.seek(index)
        image.load()  # WebP sets a frame's duration when it decodes it
        total += image.info.get("duration", 0)
    return total


def test_operation_without_extension_keeps_the_format(client, store):
    """With operations but no extension the answer is in the original's format."""
    ref = store(make_image("GIF", size=(40, 30)))
    response = client.get(f"/storage/{ref}?w=20")
    assert response.mimetype == "image/gif"
    image = decode(response.data)
    assert (image.format, image.size) == ("GIF", (20, 15))
    assert f'filename="{ref}.gif"' in response.headers["Content-Disposition"]


def test_operation_on_read_only_format_answers_png(client, store):
    """A read-only original (PSD) with operations and no extension becomes PNG."""
    ref = store(corpus_image("hopper.psd"))
    image = fetch(client, f"/storage/{ref}?w=32")
    assert (image.format, image.size) == ("PNG", (32, 32))


@pytest.mark.parametrize("name, query, mode", [
    ("16bit.cropped.tif", "w=32", "I;16"),
    ("16bit.cropped.tif", "blur=1", "L"),
    ("pil_sample_cmyk.jpg", "sharpen=1", "RGB"),
    ("hopper.gif", "w=64", "RGB"),
    ("hopper_g4.tif", "w=64&rotate=10", "L"),
])
def test_odd_modes_are_processed(client, store, name, query, mode):
    """16-bit, CMYK, palette and 1-bit images go through the steps."""
    ref = store(corpus_image(name))
    image = fetch(client, f"/storage/{ref}.png?{query}")
    assert image.mode == mode


def test_fax_tiff_resized_stays_tiff(client, store):
    """A 1-bit fax-compressed TIFF, resized to gray levels, is still written as TIFF."""
    ref = store(corpus_image("hopper_g4.tif"))
    image = fetch(client, f"/storage/{ref}?w=64")
    assert (image.format, image.mode, image.size) == ("TIFF", "L", (64, 64))


def test_options_change_the_etag(client, store):
    """Each set of options has its own validator; a repeat answers 304."""
    ref = store(make_image())
    first = client.get(f"/storage/{ref}.png?w=10")
    second = client.get(f"/storage/{ref}.png?w=11")
    assert first.headers["ETag"] != second.headers["ETag"]
    again = client.get(
        f"/storage/{ref}.png?w=10", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize("query, message", [
    ("w=0", "parameter 'w'"), ("fit=wide", "parameter 'fit'"),
    ("size=10", "unknown parameter 'size'"), ("mask=star", "parameter 'mask'"),
])
def test_bad_option_is_400_through_http(client, store, query, message):
    """Invalid parameters answer a 400 problem naming the parameter."""
    ref = store(make_image())
    response = client.get(f"/storage/{ref}?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert message in response.get_json()["detail"]


@pytest.mark.parametrize("query", ["w=200", "rotate=45", "w=100&h=200&fit=fill"])
def test_output_above_pixel_limit_is_422(tmp_path, query):
    """A result larger than PROGIMAGE_MAX_PIXELS is refused like a large input."""
    from progimage import create_app
    from progimage.config import Settings

    app = create_app(Settings(storage=str(tmp_path), max_pixels=10_000))
    client = app.test_client()
    ref = upload(client, make_image(size=(90, 90))).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.png?{query}")
    assert response.status_code == 422
    assert "limit of 10,000 pixels" in response.get_json()["detail"]


@pytest.mark.parametrize("query, size, mode", [
    ("w=64", (64, 64), "RGB"),
    ("w=100&h=50&fit=cover", (100, 50), "RGB"),
    ("w=100&h=50&fit=fill", (100, 50), "RGB"),
    ("w=100&h=50", (50, 50), "RGB"),
    ("w=300&fit=inside", (128, 128), "RGB"),
    ("h=32&dpr=2", (64, 64), "RGB"),
    ("crop=10,20,50,40", (50, 40), "RGB"),
    ("rotate=270", (128, 128), "RGB"),
    ("rotate=45", (182, 182), "RGB"),
    ("flip=v", (128, 128), "RGB"),
    ("grayscale", (128, 128), "L"),
    ("sepia", (128, 128), "RGB"),
    ("blur=2", (128, 128), "RGB"),
    ("sharpen=0.5", (128, 128), "RGB"),
    ("mask=circle", (128, 128), "RGBA"),
    ("mask=rounded:30", (128, 128), "RGBA"),
    ("q=50", (128, 128), "RGB"),
    ("lossless", (128, 128), "RGB"),
    ("bg=123456&rotate=10", (150, 150), "RGB"),
    ("strip", (128, 128), "RGB"),
    ("orient=0", (128, 128), "RGB"),
])
def test_every_operation_on_a_corpus_photo(client, store, query, size, mode):
    """Each parameter on a real JPEG photo gives the documented size and mode."""
    ref = store(corpus_image("hopper.jpg"))
    image = fetch(client, f"/storage/{ref}.png?{query}")
    assert (image.format, image.size, image.mode) == ("PNG", size, mode)


@pytest.mark.parametrize("query, expected", [
    ("rotate=90", lambda image: image.transpose(Image.Transpose.ROTATE_270)),
    ("rotate=180", lambda image: image.transpose(Image.Transpose.ROTATE_180)),
    ("flip=h", lambda image: image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    ("flip=hv", lambda image: image.transpose(Image.Transpose.ROTATE_180)),
    ("crop=5,7,60,30", lambda image: image.crop((5, 7, 65, 37))),
], ids=["rotate90", "rotate180", "flip-h", "flip-hv", "crop"])
def test_exact_operations_keep_corpus_pixels(client, store, query, expected):
    """Quarter turns, flips and crops of a real PNG move pixels without changing any."""
    data = corpus_image("hopper.png")
    ref = store(data)
    image = fetch(client, f"/storage/{ref}.png?{query}")
    assert image.tobytes() == expected(decode(data).convert("RGB")).tobytes()
