"""The format registry, built from Pillow's own plugin tables."""

import pickle

import pytest

from progimage.exceptions import UnknownFormat
from progimage.imaging.formats import FormatRegistry


@pytest.fixture(name="registry")
def _registry():
    """The process-wide registry."""
    return FormatRegistry.from_pillow()


@pytest.mark.parametrize("ext, name, mime", [
    ("jpg", "JPEG", "image/jpeg"), ("JPEG", "JPEG", "image/jpeg"),
    ("png", "PNG", "image/png"), ("apng", "PNG", "image/png"),
    ("webp", "WEBP", "image/webp"), ("tif", "TIFF", "image/tiff"),
    ("bmp", "BMP", "image/bmp"), ("qoi", "QOI", "image/x-qoi"),
    ("pdf", "PDF", "application/pdf"), ("avif", "AVIF", "image/avif"),
])
def test_extension_lookup(registry, ext, name, mime):
    """Extensions map to Pillow's format and a MIME type, in any letter case."""
    fmt = registry.for_extension(ext)
    assert (fmt.name, fmt.mime) == (name, mime)


@pytest.mark.parametrize("ext", ["psd", "fli", "xpm", "pcd", "cur", "dcx"])
def test_read_only_formats_are_not_writable(registry, ext):
    """Formats Pillow only reads are refused as output."""
    with pytest.raises(UnknownFormat, match="can be read but not written"):
        registry.for_extension(ext)


@pytest.mark.parametrize("ext", ["h5", "grib", "bufr", "wmf", "emf"])
def test_stub_formats_are_not_writable(registry, ext):
    """Formats whose save handler is a stub (no handler installed) are refused."""
    with pytest.raises(UnknownFormat):
        registry.for_extension(ext)


def test_unknown_extension_lists_writable_ones(registry):
    """An unknown extension is refused with the list of writable extensions."""
    with pytest.raises(UnknownFormat, match="writable extensions: .*jpg.*webp"):
        registry.for_extension("docx")


def test_writable_set_matches_pillow_13(registry):
    """Every format FORMATS.md lists as writable by extension is writable here."""
    names = {fmt.name for fmt in registry.writable()}
    assert names >= {
        "AVIF", "BLP", "BMP", "DDS", "DIB", "EPS", "GIF", "ICNS", "ICO", "IM",
        "JPEG", "JPEG2000", "MPO", "MSP", "PALM", "PCX", "PDF", "PNG", "PPM",
        "QOI", "SGI", "TGA", "TIFF", "WEBP", "XBM",
    }
    assert not names & {"HDF5", "GRIB", "BUFR", "WMF", "SPIDER"}


@pytest.mark.parametrize("name, kept, lost", [
    ("JPEG", {"L", "RGB", "CMYK"}, {"RGBA", "LA", "P", "I;16"}),
    ("PNG", {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}, {"CMYK", "F", "I"}),
    ("BMP", {"1", "L", "RGB"}, {"RGBA"}),
    ("GIF", {"P", "RGBA"}, {"I;16", "F"}),
    ("TIFF", {"RGBA", "CMYK", "I;16", "F"}, set()),
])
def test_probed_modes(registry, name, kept, lost):
    """The probe finds modes stored without loss, and not those that lose data."""
    modes = registry.for_name(name).modes
    assert kept <= modes
    assert not lost & modes


def test_multi_frame_formats(registry):
    """Formats with a save-all handler can keep animations and pages."""
    multi = {fmt.name for fmt in registry.writable() if fmt.multi_frame}
    assert multi >= {"GIF", "PNG", "WEBP", "TIFF", "PDF", "AVIF"}


def test_every_type_is_an_image_or_a_document(registry):
    """No format is ever answered with a type a browser would run or play: image
    types, or PDF and PostScript (MPEG's video/mpeg becomes image/x-mpeg)."""
    types = {fmt.name: fmt.mime for fmt in registry.readable() + registry.writable()}
    odd = {name: mime for name, mime in types.items() if not mime.startswith("image/")}
    assert odd == {"EPS": "application/postscript", "PDF": "application/pdf"}
    assert types["MPEG"] == "image/x-mpeg"


def test_a_pickled_registry_reads_formats_as_the_original(registry):
    """A registry sent to a converter process finds the same formats, and keeps the
    input switched off as the server's does."""
    server = registry.reading(postscript=False)
    received = pickle.loads(pickle.dumps(server))
    assert received.for_extension("jpg") == server.for_extension("jpg")
    assert received.for_name("eps").readable is False
    assert received.switched_off == {"EPS": "PROGIMAGE_POSTSCRIPT"}


def test_a_registry_pickled_again_is_the_one_unpickled_before(registry):
    """Every job carries the registry: the converter unpickles its formats once and
    takes that registry back for the next jobs; a different registry is its own."""
    first = pickle.loads(pickle.dumps(registry))
    assert pickle.loads(pickle.dumps(registry)) is first
    other = pickle.loads(pickle.dumps(registry.reading(postscript=False)))
    assert other is not first
    assert first.for_name("eps").readable is True
    assert other.for_name("eps").readable is False
