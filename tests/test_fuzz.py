"""Property: random and mutated bytes at upload and conversion never answer 500."""

import importlib.util
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import CORPUS, corpus_image, decode, make_image, upload
from progimage import create_app
from progimage.config import Settings

# Small seeds of many formats; mutations of them reach deep into the decoders.
SEEDS = [
    make_image(fmt, size=(24, 16), mode=mode)
    for fmt, mode in [
        ("PNG", "RGBA"), ("JPEG", "RGB"), ("GIF", "P"), ("BMP", "RGB"),
        ("TIFF", "I;16"), ("WEBP", "RGBA"), ("ICO", "RGBA"), ("TGA", "LA"),
        ("PPM", "RGB"), ("PCX", "P"), ("SGI", "L"), ("QOI", "RGBA"),
    ]
] + sorted(
    path.read_bytes() for path in (CORPUS / "images").glob("*")
    if path.stat().st_size < 64 * 1024
)
TARGETS = ["png", "jpg", "gif", "webp", "tif", "bmp", "ico", "pdf", "pcx", "tga"]
# What a client may see: stored, refused, too large, busy. Never 500.
UPLOAD_STATUSES = {200, 400, 413, 422}
CONVERT_STATUSES = {200, 400, 422, 503}


@st.composite
def mutated(draw) -> bytes:
    """A seed with flipped bytes, a cut, or a spliced copy; or plain random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(min_size=1, max_size=512))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]
    if draw(st.integers(0, 4)) == 0:
        start = draw(st.integers(0, len(data) - 1))
        data[start:start] = data[start: start + draw(st.integers(1, 64))]
    return bytes(data) or b"\0"


@pytest.fixture(name="fuzz_client", scope="module")
def _fuzz_client(tmp_path_factory):
    """One app for every example (a fresh app per example would be too slow)."""
    app = create_app(Settings(
        storage=str(tmp_path_factory.mktemp("fuzz") / "data"),
        max_pixels=4_000_000, convert_timeout=10,
    ))
    yield app.test_client()
    app.extensions["progimage"].close()


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # big reprs
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=mutated(), target=st.sampled_from(TARGETS))
def test_mutated_bytes_never_answer_500(fuzz_client, data, target):
    """Upload answers 200/400/413/422; converting what was stored never answers 500."""
    response = upload(fuzz_client, data)
    assert response.status_code in UPLOAD_STATUSES, response.get_data(as_text=True)
    if response.status_code == 200:
        ref = response.get_data(as_text=True)
        with fuzz_client.get(f"/storage/{ref}.{target}") as converted:
            assert converted.status_code in CONVERT_STATUSES, converted.data[:300]


BROKEN_EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n"
    b"this is not { PostScript ]\n%%EOF\n"
)


def _harness():
    """fuzz/fuzz_convert.py, the atheris harness of ``make fuzz`` (importable
    without atheris)."""
    spec = importlib.util.spec_from_file_location(
        "fuzz_convert", Path(__file__).parents[1] / "fuzz" / "fuzz_convert.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HARNESS = _harness()


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # big reprs
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")) // 4, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=mutated(), target=st.sampled_from(HARNESS.TARGETS),
       options=st.sampled_from(HARNESS.OPTIONS))
def test_the_fuzz_harness_finds_no_crash(data, target, options):
    """``make fuzz`` runs in nothing CI runs: its check, inspect then convert to
    any writable format with any of its option sets, only domain errors allowed,
    runs here on mutated seeds, a bounded profile of it."""
    HARNESS.check(data, target, options)


def test_broken_eps_found_by_fuzzing_stays_fixed(client):
    """Ghostscript failing on a broken EPS answered 500 once (atheris): now 400."""
    assert upload(client, BROKEN_EPS).status_code == 400


def test_ftex_found_by_fuzzing_stays_fixed(client):
    """The FTEX plugin closing the upload's stream answered 500 once (Hypothesis):
    the corpus's FTEX file uploads and converts. Without the corpus this test is
    skipped by name (a failure on CI): no other image stands in for it."""
    response = upload(client, corpus_image("ftex_uncompressed.ftu"))
    assert response.status_code == 200
    converted = client.get(f"/storage/{response.get_data(as_text=True)}.png")
    assert converted.status_code == 200
    assert decode(converted.data).format == "PNG"
