"""FlashPix (FPX) and MIC are read through olefile, its property vectors bounded."""

import struct
from pathlib import Path

import pytest
from olefile import olefile

from helpers import CORPUS, upload
from progimage.imaging import plugins

plugins.register()

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
VECTOR_OF_I4 = olefile.VT_VECTOR | olefile.VT_I4


def test_endless_property_vector_is_refused_at_once(client):
    """An FPX whose property vector claims billions of elements (found by ``make
    fuzz``; it held a converter for the whole time limit, growing by 11 MiB/s) is
    refused as not an image, without waiting for the limit."""
    data = (RESOURCES / "fpx_endless_vector.bin").read_bytes()
    response = upload(client, data)
    assert response.status_code == 400
    assert response.get_json()["detail"] == (
        "the file is not an image in a format we read"
    )


@pytest.fixture(name="ole")
def _ole():
    """An OLE file to parse properties with (the corpus's MIC image)."""
    with olefile.OleFileIO(str(CORPUS / "images" / "hopper.mic")) as ole:
        yield ole


def test_vector_its_data_holds_is_read(ole):
    """A vector within its data reads as before: its elements, in order."""
    data = struct.pack("<III", 2, 7, 9)
    assert ole._parse_property(data, 0, 1, VECTOR_OF_I4, False, False) == [7, 9]


@pytest.mark.parametrize("length, data_bytes", [
    (2**32 - 1, 8), (plugins.MAX_OLE_VECTOR + 1, 4 * (plugins.MAX_OLE_VECTOR + 1)),
], ids=["past its data", "past any FlashPix file's"])
def test_long_vector_is_refused(ole, length, data_bytes):
    """A vector longer than its data, or than any FlashPix file needs, is refused."""
    data = struct.pack("<I", length) + bytes(data_bytes)
    with pytest.raises(ValueError, match=f"a property vector of {length} elements"):
        ole._parse_property(data, 0, 1, VECTOR_OF_I4, False, False)
