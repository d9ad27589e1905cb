"""What tests share besides fixtures: images made in memory, uploads, decoding."""

import contextlib
import io
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageCms
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from progimage import create_app
from progimage.config import Settings
from system_programs import on_ci

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
#: How long a test waits for a thread, a process or a server to reach the state it
#: expects before it fails (pytest-timeout's suite-wide limit is the last resort).
PATIENCE = 10.0


@contextlib.contextmanager
def app_client(settings: Settings) -> Iterator:
    """A test client of an app built with ``settings``, for tests that change
    settings over one storage folder; the app's converters stop afterwards."""
    app = create_app(settings)
    try:
        yield app.test_client()
    finally:
        app.extensions["progimage"].close()


def make_image(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), mode: str = "RGB", **params
) -> bytes:
    """An encoded image with a gradient, so that pixels differ from one another."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [
            (x * 255 // width, y * 255 // height, 128)
            for y in range(height)
            for x in range(width)
        ]
    )
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def upload(client, data: bytes, name: str = "image", method: str = "PUT",
           path: str = "/storage/", headers: dict[str, str] | None = None):
    """Upload ``data`` as the multipart field ``data``; return the response."""
    # Encoded in memory: the test client would spool large bodies to a file
    # that nothing closes.
    boundary, body = encode_multipart(
        {"data": FileStorage(io.BytesIO(data), filename=name)}
    )
    return client.open(
        path, method=method, data=body,
        content_type=f"multipart/form-data; boundary={boundary}", headers=headers,
    )


def answered_reference(response) -> str:
    """The reference an upload answered, once checked as every upload answers it:
    200, plain text, a UUID4, and a Location header naming it."""
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    ref = response.get_data(as_text=True)
    assert uuid.UUID(ref).version == 4
    assert response.headers["Location"] == f"/storage/{ref}"
    return ref


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    """An in-memory image, encoded."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def fetch(client, path: str) -> Image.Image:
    """GET a derived image; assert it succeeded and decode it."""
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return decode(response.data)


def decode(data: bytes) -> Image.Image:
    """Decode a response body with Pillow."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@contextlib.contextmanager
def largest_image() -> Iterator[list[int]]:
    """Watch every image Pillow makes in this process (results of operations
    included); the list yielded holds the largest pixel count seen so far."""
    largest = [0]
    original = Image.Image._new

    def spy(self: Image.Image, core) -> Image.Image:
        largest[0] = max(largest[0], core.size[0] * core.size[1])
        return original(self, core)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image.Image, "_new", spy)
        yield largest


def corpus_required() -> bool:
    """On CI the corpus must be there; elsewhere its tests are skipped."""
    return on_ci()


def with_orientation(orientation: int) -> Image.Exif:
    """EXIF data holding only the orientation tag, for ``make_image(exif=...)``."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def corpus_image(name: str) -> bytes:
    """A real sample image from the corpus; the test is skipped where it is absent."""
    path = CORPUS / "images" / name
    if not path.is_file() and not corpus_required():
        pytest.skip(f"corpus image {name} is not available here")
    return path.read_bytes()


BUCKET = "progimage-test"


API_KEY = "test-key-1f6c2a"


#: The upload limit of ``keyed_server``: small, so that refusing early shows.
KEYED_SERVER_MAX_UPLOAD = 16 * 1024 * 1024

#: What ``signed_server`` signs with; its presets: thumb (32x32 cover), hero (w 48).
SIGNING_KEY = "test-signing-key-7d1e"
SIGNED_SERVER_PRESETS = "thumb=w:32,h:32,fit:cover;hero=w:48"


# A conversion that takes many times any test's limit, however fast the CPU: lossless
# WebP at the slowest method takes 28 s for ``slow_png()`` on the 2-core development
# machine (AVIF at the shipped speed takes 0.3 s, under a 0.5 s limit on a fast CPU).
SLOW_ENCODER = {"PROGIMAGE_WEBP_METHOD": "6"}
SLOW_CONVERSION = "webp?lossless=1&q=100"


def slow_png(side: int = 3000) -> bytes:
    """A small PNG of 9 megapixels with no flat areas, slow to encode losslessly."""
    ramp = Image.linear_gradient("L").resize((side, side))
    bands = (ramp, ramp.transpose(Image.Transpose.ROTATE_90), ramp.rotate(45))
    buffer = io.BytesIO()
    Image.merge("RGB", bands).save(buffer, "PNG")
    return buffer.getvalue()


def wait_until(condition: Callable[[], bool], what: str = "the expected state",
               patience: float = PATIENCE) -> None:
    """Return once ``condition()`` holds; fail after ``patience`` seconds."""
    deadline = time.monotonic() + patience
    while not condition():
        assert time.monotonic() < deadline, f"{what} never came in {patience:g} s"
        time.sleep(0.01)


class HeldConverter:
    """A converter stand-in holding its job until the test releases it, then
    reporting that it ran past its limit, as a real one killed at the limit does.
    How long a real encode takes depends on the machine; tests using this must not.

    With ``hold=False`` it gives up at the job's own limit, like a stuck decoder.
    """

    def __init__(self, hold: bool = True) -> None:
        self.hold = hold
        self.release = threading.Event()
        self.started = threading.Event()
        self.stopped = False

    def run(self, job: object, timeout: float) -> bytes:
        """Wait for ``release`` (or ``timeout`` s, without ``hold``).

        :raises TimeoutError: always, as the pool's limit passed.
        """
        self.started.set()
        self.release.wait(PATIENCE if self.hold else timeout)
        raise TimeoutError

    def stop(self, grace: float = 0) -> None:
        """Record that the pool stopped it."""
        self.stopped = True


def hold_converter(pool, hold: bool = True) -> HeldConverter:
    """Put a ``HeldConverter`` in the free slot of a pool of one converter."""
    held = HeldConverter(hold)
    pool._free.get_nowait()
    pool._free.put(held)
    return held


# Display P3 (Apple's profile): the primaries adapted to the D50 connection space.
DISPLAY_P3_COLORANTS = (
    (0.51512146, 0.24119568, -0.00105286),
    (0.29197693, 0.69224548, 0.04188538),
    (0.15710449, 0.06657410, 0.78407288),
)
# The sRGB tone curve as ICC parametric function 3: g, a, b, c, d.
SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)


def display_p3_profile() -> bytes:
    """An ICC v2 matrix/TRC profile of Display P3, written byte by byte here (Pillow
    can only make sRGB ones): its colorants and the sRGB tone curve."""
    curve = b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + _fixed(*SRGB_CURVE)
    return _icc_profile(b"mntr", b"RGB ", b"XYZ ", b"Display P3 (test)", {
        b"rXYZ": b"XYZ \0\0\0\0" + _fixed(*DISPLAY_P3_COLORANTS[0]),
        b"gXYZ": b"XYZ \0\0\0\0" + _fixed(*DISPLAY_P3_COLORANTS[1]),
        b"bXYZ": b"XYZ \0\0\0\0" + _fixed(*DISPLAY_P3_COLORANTS[2]),
        b"rTRC": curve, b"gTRC": curve, b"bTRC": curve,
    })


def linear_grey_profile() -> bytes:
    """An ICC v2 grey profile whose levels are linear light (gamma 1.0): level 128
    is half the light, which sRGB writes as 188."""
    gamma_one = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0100)
    return _icc_profile(b"mntr", b"GRAY", b"XYZ ", b"Linear grey (test)",
                        {b"kTRC": gamma_one})


def cmyk_profile(inks: dict[str, tuple[int, int, int]]) -> bytes:
    """An ICC v2 CMYK printer profile (a lut16 from CMYK to CIELAB, 2 points per
    ink) in which each ink alone prints the sRGB colour ``inks`` gives it ("C", "M",
    "Y", "K") and inks together multiply; no ink is white paper."""
    corners = Image.new("RGB", (16, 1))
    for index in range(16):
        used = [ink for bit, ink in zip((8, 4, 2, 1), "CMYK") if index & bit]
        colour = [1.0, 1.0, 1.0]
        for ink in used:
            colour = [c * level / 255 for c, level in zip(colour, inks[ink])]
        corners.putpixel((index, 0), tuple(round(c * 255) for c in colour))
    lab = ImageCms.applyTransform(corners, ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB",
    ))
    # 8-bit L*a*b* (a* 0 = 128; tobytes would give a* and b* signed) to the 16-bit
    # ICC v2 encoding (L* 100 = 0xFF00, a* 0 = 0x8000).
    grid = b"".join(
        struct.pack(">HHH", *(value * 256 for value in lab.getpixel((index, 0))))
        for index in range(16)
    )
    identity = (1, 0, 0, 0, 1, 0, 0, 0, 1)
    lut = (b"mft2\0\0\0\0" + bytes((4, 3, 2, 0)) + _fixed(*identity)
           + struct.pack(">HH", 2, 2) + struct.pack(">HH", 0, 0xFFFF) * 4 + grid
           + struct.pack(">HH", 0, 0xFFFF) * 3)
    return _icc_profile(b"prtr", b"CMYK", b"Lab ", b"Press inks (test)",
                        {b"A2B0": lut, b"B2A0": lut})


def _fixed(*values: float) -> bytes:
    """ICC s15Fixed16Number values."""
    return b"".join(struct.pack(">i", round(value * 65536)) for value in values)


def _icc_profile(
    device_class: bytes, space: bytes, connection: bytes, name: bytes,
    tags: dict[bytes, bytes],
) -> bytes:
    """An ICC v2 profile: the header, the tag table, a description, a copyright, the
    D50 white point and ``tags``."""
    name += b"\0"
    tags = {
        b"desc": b"desc\0\0\0\0" + struct.pack(">I", len(name)) + name + bytes(79),
        b"cprt": b"text\0\0\0\0No copyright\0",
        b"wtpt": b"XYZ \0\0\0\0" + _fixed(0.9642, 1.0, 0.8249),
        **tags,
    }
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags.items():
        data += bytes(-len(data) % 4)  # every tag starts on a 4-byte boundary
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size) + bytes(4) + bytes((2, 0x10, 0, 0)) + device_class
        + space + connection + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0)
        + _fixed(0.9642, 1.0, 0.8249)
    )
    return header + bytes(128 - len(header)) + table + body
