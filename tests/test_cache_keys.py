"""Property: requests whose cache keys are equal get byte-identical images, so a
cached variant or an ETag never stands for another result."""

import io
import os

import pytest
from hypothesis import given, note, settings, strategies as st

from helpers import decode, make_image, upload
from progimage import create_app
from progimage.imaging import encoder_params
from progimage.config import Settings
from progimage.imaging.converter import convert
from progimage.options import parse

EXAMPLES = int(os.environ.get("PROGIMAGE_HYPOTHESIS_EXAMPLES", "60"))
SOURCE = make_image("PNG", size=(12, 8))
# Values that are equal, nearly equal or equal after normalising; their keys must
# differ unless the images do not.
NEAR_VALUES = {
    "rotate": ["90", "90.0000001", "89.999", "90.004", "90.006", "-270", "450",
               "30", "30.001", "29.9999999"],
    "blur": ["1", "1.001", "0.999", "1.004", "1.006"],
    "sharpen": ["2", "2.0001", "1.996", "2.01"],
    "dpr": ["1.5", "1.4999", "1.5001", "1.505"],
    "w": ["7", "07", "8"],
}
EXTENSIONS = ["pbm", "pgm", "ppm", "pnm", "pfm", "png"]


@pytest.fixture(name="service", scope="module")
def _service(tmp_path_factory):
    """The service of one app for every example: it builds the keys."""
    app = create_app(Settings(storage=str(tmp_path_factory.mktemp("keys") / "data")))
    yield app.extensions["progimage"]
    app.extensions["progimage"].close()


requests = st.tuples(
    st.sampled_from(EXTENSIONS),
    st.dictionaries(
        st.sampled_from(sorted(NEAR_VALUES)), st.just(None), max_size=3
    ).flatmap(lambda names: st.fixed_dictionaries(
        {name: st.sampled_from(NEAR_VALUES[name]) for name in names}
    )),
)


def key_and_image(service, request: tuple[str, dict[str, str]]) -> tuple[str, bytes]:
    """The service's variant key for a request, and the image it converts to."""
    extension, query = request
    target = service.formats.for_extension(extension)
    options = parse({name: [value] for name, value in query.items()})
    encoder = encoder_params(service.settings).get(target.name, {})
    data = convert(io.BytesIO(SOURCE), target, service.formats,
                   service.settings.max_pixels, options, encoder=encoder)
    return service.variant_key(target, options), data


@settings(max_examples=EXAMPLES, deadline=None)
@given(first=requests, second=requests)
def test_equal_keys_mean_identical_images(service, first, second):
    """Two requests with one key convert to the same bytes."""
    first_key, first_image = key_and_image(service, first)
    second_key, second_image = key_and_image(service, second)
    note(f"{first_key!r} {second_key!r}")
    if first_key == second_key:
        assert first_image == second_image


@pytest.mark.parametrize("query, key", [
    ("rotate=90.0000001", "rotate=90"),
    ("rotate=-0.001", ""),
    ("rotate=359.996", ""),
    ("rotate=30.004", "rotate=30"),
    ("rotate=30.006", "rotate=30.01"),
    ("blur=1.234&sharpen=0.5", "blur=1.23&sharpen=0.5"),
    ("w=10&dpr=1.2549", "w=12"),  # 10 x 1.25, rounded to even
    ("w=4&h=4&fit=cover&focus=0.304,1.0",
     "w=4&h=4&fit=cover&gravity=focus&focus=0.3,1"),
    ("w=4&h=4&gravity=smart", "w=4&h=4"),  # contain cuts nothing
])
def test_keys_show_the_values_the_conversion_uses(query, key):
    """Decimals are rounded to 2 places when parsed; the key shows that value."""
    pairs = dict(part.split("=") for part in query.split("&"))
    assert parse({name: [value] for name, value in pairs.items()}).key() == key


def test_near_quarter_turn_does_not_poison_the_exact_one(client):
    """``rotate=90.0000001`` is the exact quarter turn, cached or not."""
    ref = upload(client, SOURCE).get_data(as_text=True)
    with client.get(f"/storage/{ref}.png?rotate=90.0000001") as near:
        with client.get(f"/storage/{ref}.png?rotate=90") as exact:
            assert decode(near.data).size == decode(exact.data).size == (8, 12)
            assert near.data == exact.data
            assert near.headers["ETag"] == exact.headers["ETag"]


def test_netpbm_extensions_have_their_own_variants(client):
    """``.pbm`` asked first does not answer ``.pgm``: each gets its subtype."""
    ref = upload(client, SOURCE).get_data(as_text=True)
    with client.get(f"/storage/{ref}.pbm") as bitmap:
        with client.get(f"/storage/{ref}.pgm") as graymap:
            assert (decode(bitmap.data).mode, decode(graymap.data).mode) == ("1", "L")
            assert graymap.headers["Content-Type"] == "image/x-portable-graymap"
            assert bitmap.headers["ETag"] != graymap.headers["ETag"]
