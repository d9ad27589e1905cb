"""Query parameters to ImageOptions: the table of valid and invalid values."""

import pytest

from progimage.exceptions import InvalidOptions
from progimage.options import NO_OPTIONS, ImageOptions, parse

REF = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def options(query: str) -> ImageOptions:
    """Parse a query string the way Flask hands it over."""
    pairs: dict[str, list[str]] = {}
    for part in filter(None, query.split("&")):
        name, _, value = part.partition("=")
        pairs.setdefault(name, []).append(value)
    return parse(pairs)


@pytest.mark.parametrize("query, expected", [
    ("", ImageOptions()),
    ("w=100", ImageOptions(width=100)),
    ("w=100&h=50&fit=cover", ImageOptions(width=100, height=50, fit="cover")),
    ("w=100&dpr=2", ImageOptions(width=200)),
    ("h=33&dpr=1.5", ImageOptions(height=50)),
    ("crop=1,2,3,4", ImageOptions(crop=(1, 2, 3, 4))),
    ("rotate=-90", ImageOptions(rotate=270.0)),
    ("rotate=450", ImageOptions(rotate=90.0)),
    ("flip=vh", ImageOptions(flip="hv")),
    ("grayscale", ImageOptions(grayscale=True)),
    ("grayscale=false", ImageOptions()),
    ("sepia=1", ImageOptions(sepia=True)),
    ("blur=2.5&sharpen=1", ImageOptions(blur=2.5, sharpen=1.0)),
    ("mask=circle", ImageOptions(mask="circle")),
    ("mask=rounded:012", ImageOptions(mask="rounded:12")),
    (f"mask={REF}", ImageOptions(mask=REF)),
    ("q=80&lossless=true", ImageOptions(quality=80, lossless=True)),
    ("bg=%23f00", ImageOptions(background=(255, 0, 0, 255))),
    ("bg=00ff0080", ImageOptions(background=(0, 255, 0, 128))),
    ("bg=1234", ImageOptions(background=(0x11, 0x22, 0x33, 0x44))),
    ("strip&orient=0", ImageOptions(strip=True, orient=False, icc="srgb")),
    ("strip&icc=keep", ImageOptions(strip=True)),
    ("fit=cover", ImageOptions()),
    ("w=9&h=9&fit=cover&gravity=ne", ImageOptions(9, 9, "cover", gravity="ne")),
    ("w=9&h=9&fit=cover&gravity=smart", ImageOptions(9, 9, "cover", gravity="smart")),
    ("w=9&h=9&fit=cover&focus=0.333,1",
     ImageOptions(9, 9, "cover", gravity="focus", focus=(0.33, 1.0))),
    ("w=9&h=9&fit=cover&gravity=focus&focus=0,.5",
     ImageOptions(9, 9, "cover", gravity="focus", focus=(0.0, 0.5))),
    ("w=9&h=9&gravity=se", ImageOptions(9, 9)),
    ("w=9&fit=cover&focus=0.5,0.5", ImageOptions(9)),
    ("w=9&h=8&fit=pad", ImageOptions(9, 8, "pad")),
    ("w=9&fit=pad", ImageOptions(9)),
    ("pad=1,02,3,0&trim=0", ImageOptions(pad=(1, 2, 3, 0), trim=0)),
    ("pad=0,0,0,0", ImageOptions()),
    ("brightness=1.234&contrast=0&saturation=10&gamma=0.01",
     ImageOptions(brightness=1.23, contrast=0.0, saturation=10.0, gamma=0.01)),
    ("brightness=1&gamma=1.004", ImageOptions()),
    ("pixelate=08", ImageOptions(pixelate=8)),
    ("icc=srgb&strip", ImageOptions(icc="srgb", strip=True)),
    ("icc=keep", ImageOptions()),
    (f"watermark={REF}&wm_gravity=se&wm_offset=-3,04&wm_scale=.25&wm_opacity=0.5",
     ImageOptions(watermark=REF, wm_gravity="se", wm_offset=(-3, 4), wm_scale=0.25,
                  wm_opacity=0.5)),
    (f"watermark={REF}&wm_tile&wm_offset=0,0",
     ImageOptions(watermark=REF, wm_tile=True)),
    ("wm_gravity=se&wm_scale=0.5&wm_tile=1", ImageOptions()),
    ("max_bytes=020000&q=70", ImageOptions(max_bytes=20000, quality=70)),
    # The edges of each range are inside it.
    ("w=1", ImageOptions(width=1)),
    ("w=16383&h=16383", ImageOptions(16383, 16383)),
    ("crop=0,0,5,1", ImageOptions(crop=(0, 0, 5, 1))),
    ("pad=16383,16383,16383,16383", ImageOptions(pad=(16383, 16383, 16383, 16383))),
    ("rotate=3600", ImageOptions()),
    ("rotate=-3600", ImageOptions()),
    ("rotate=359.999", ImageOptions()),  # rounds to 360: no turn
    # Without a side, inside is contain; with one, it stays (it never enlarges).
    ("fit=inside", ImageOptions()),
    ("h=9&fit=inside", ImageOptions(height=9, fit="inside")),
])
def test_valid_queries(query, expected):
    """Each parameter converts to its typed, normalised field."""
    assert options(query.replace("%23", "#")) == expected


@pytest.mark.parametrize("query, message", [
    ("width=10", "unknown parameter 'width'"),
    ("w=1&w=2", "parameter 'w' is given more than once"),
    ("w=0", "parameter 'w': must be a whole number from 1 to 16383"),
    ("w=abc", "parameter 'w'"),
    ("h=-5", "parameter 'h'"),
    ("w=20000", "parameter 'w'"),
    ("w=10000&dpr=4", "parameter 'w': 10000 x dpr 4 is above"),
    ("fit=stretch", "parameter 'fit': must be one of contain, cover, fill, inside"),
    ("dpr=5", "parameter 'dpr': must be a number at least 1 and at most 4"),
    ("dpr=0.5", "parameter 'dpr'"),
    ("crop=1,2,3", "parameter 'crop': must be x,y,width,height"),
    ("crop=0,0,0,5", "parameter 'crop': the width and height"),
    ("crop=-1,0,5,5", "parameter 'crop'"),
    ("rotate=abc", "parameter 'rotate'"),
    ("rotate=inf", "parameter 'rotate'"),
    ("flip=x", "parameter 'flip': must be h, v or hv"),
    ("grayscale=maybe", "parameter 'grayscale': must be 1 or 0"),
    ("blur=0", "parameter 'blur': must be a number above 0"),
    ("blur=nan", "parameter 'blur'"),
    ("sharpen=11", "parameter 'sharpen'"),
    ("mask=square", "parameter 'mask': must be circle, rounded:<radius>"),
    ("mask=rounded:0", "parameter 'mask': the radius"),
    ("mask=rounded:", "parameter 'mask': the radius"),
    (f"mask={REF.upper()}", "parameter 'mask'"),
    ("q=0", "parameter 'q': must be a whole number from 1 to 100"),
    ("q=101", "parameter 'q'"),
    ("bg=red", "parameter 'bg': must be a hex colour"),
    ("bg=12345", "parameter 'bg'"),
    ("orient=2", "parameter 'orient'"),
    ("gravity=top", "parameter 'gravity': must be one of center, n, ne, e, se, s, sw"),
    ("gravity=focus", "parameter 'gravity': focus needs focus=x,y"),
    ("gravity=n&focus=0.5,0.5", "parameter 'focus' goes with gravity=focus"),
    ("focus=0.5", "parameter 'focus': must be x,y"),
    ("focus=0.5,1.01", "parameter 'focus': must be a number at least 0 and at most 1"),
    ("focus=-0.1,0", "parameter 'focus'"),
    ("focus=nan,0", "parameter 'focus'"),
    ("pad=1,2,3", "parameter 'pad': must be top,right,bottom,left"),
    ("pad=-1,0,0,0", "parameter 'pad'"),
    ("pad=16384,0,0,0", "parameter 'pad': each side must be at most 16383"),
    ("trim=256", "parameter 'trim': must be a whole number from 0 to 255"),
    ("brightness=-1", "parameter 'brightness': must be a number at least 0 and at"),
    ("contrast=10.01", "parameter 'contrast'"),
    ("saturation=inf", "parameter 'saturation'"),
    ("gamma=0.004", "parameter 'gamma': must be a number above 0"),
    ("pixelate=1", "parameter 'pixelate': must be a whole number from 2 to 1000"),
    ("icc=p3", "parameter 'icc': must be one of keep, srgb"),
    ("watermark=logo", "parameter 'watermark': must be the reference of a stored"),
    (f"watermark={REF}&wm_gravity=focus", "parameter 'wm_gravity': must be one of"),
    (f"watermark={REF}&wm_offset=1", "parameter 'wm_offset': must be x,y"),
    (f"watermark={REF}&wm_offset=0,16384", "parameter 'wm_offset': each must be"),
    (f"watermark={REF}&wm_scale=1.01", "parameter 'wm_scale'"),
    (f"watermark={REF}&wm_opacity=-0.1", "parameter 'wm_opacity'"),
    (f"watermark={REF}&wm_tile&wm_offset=0,-1", "parameter 'wm_offset': with wm_tile"),
    ("max_bytes=0", "parameter 'max_bytes': must be a whole number from 1 to"),
    ("max_bytes=1e6", "parameter 'max_bytes'"),
    ("max_bytes=5000&lossless", "parameter 'max_bytes' lowers the quality"),
])
def test_invalid_queries(query, message):
    """Bad parameters raise InvalidOptions naming the parameter and the reason."""
    with pytest.raises(InvalidOptions) as error:
        options(query)
    assert message in error.value.detail


KNOWN = ("w, h, fit, gravity, focus, dpr, crop, trim, pad, rotate, flip, grayscale, "
         "sepia, brightness, contrast, saturation, gamma, blur, sharpen, pixelate, "
         "mask, watermark, wm_gravity, wm_offset, wm_scale, wm_opacity, wm_tile, q, "
         "lossless, max_bytes, bg, strip, icc, orient")


@pytest.mark.parametrize("query, message", [
    ("zz=1", f"unknown parameter 'zz'; known: {KNOWN}"),
    ("gravity=focus", "parameter 'gravity': focus needs focus=x,y"),
    ("focus=0.5", "parameter 'focus': must be x,y: fractions of the width and "
                  "height, such as 0.25,0.5"),
    ("rotate=3601", "parameter 'rotate': must be a number at least -3600 and at "
                    "most 3600 (rounded to 2 decimals)"),
    ("rotate=-3601", "parameter 'rotate': must be a number at least -3600 and at "
                     "most 3600 (rounded to 2 decimals)"),
    ("pad=1,2,3", "parameter 'pad': must be top,right,bottom,left in whole pixels, "
                  "such as 10,0,10,0"),
    ("pad=0,16384,0,0", "parameter 'pad': each side must be at most 16383"),
    ("pad=0,0,16384,0", "parameter 'pad': each side must be at most 16383"),
    ("pad=0,0,0,16384", "parameter 'pad': each side must be at most 16383"),
    ("mask=rounded:5:5", "parameter 'mask': the radius in rounded:<radius> must be "
                         "a whole number of pixels, at least 1"),
    ("w=8192&dpr=2", "parameter 'w': 8192 x dpr 2 is above the largest side of 16383"),
])
def test_invalid_queries_say_exactly_why(query, message):
    """The whole message, as the problem's detail shows it."""
    with pytest.raises(InvalidOptions) as error:
        options(query)
    assert error.value.detail == message


@pytest.mark.parametrize("first, second", [
    ("w=100&dpr=2", "w=200"),
    ("rotate=-90", "rotate=270"),
    ("h=50&w=100", "w=100&h=50"),
    ("flip=vh", "flip=hv"),
    ("bg=f00", "bg=ff0000ff"),
    ("grayscale", "grayscale=1"),
    ("fit=cover", ""),
    ("w=10&fit=contain", "w=10"),
    ("w=10&fit=cover", "w=10"),
    ("h=10&fit=fill", "h=10"),
    ("mask=rounded:07", "mask=rounded:7"),
    ("icc=keep", ""),
    ("w=5&h=5&fit=cover&gravity=center", "w=5&h=5&fit=cover"),
    ("w=5&h=5&gravity=s", "w=5&h=5"),
    ("w=5&h=5&fit=cover&focus=0.5,0.2", "w=5&h=5&fit=cover&gravity=focus&focus=.5,.2"),
    ("w=5&h=5&fit=cover&focus=0.501,1", "w=5&h=5&fit=cover&focus=0.5,1.0"),
    ("wm_opacity=0.5&wm_tile", ""),
    (f"watermark={REF}&wm_gravity=center&wm_opacity=1&wm_offset=0,0",
     f"watermark={REF}"),
])
def test_equivalent_queries_share_a_key(first, second):
    """Requests for the same result have the same canonical key."""
    assert options(first).key() == options(second).key()


@pytest.mark.parametrize("first, second", [
    ("w=100", "h=100"), ("w=100&fit=cover&h=5", "w=100&fit=fill&h=5"),
    ("w=100", "w=100&fit=inside"),
    ("rotate=90", "rotate=270"), ("q=80", "q=81"), ("strip", "orient=0"),
    ("", "grayscale"), ("blur=1", "sharpen=1"), ("", "trim=0"), ("", "pad=1,0,0,0"),
    ("w=5&h=5", "w=5&h=5&fit=pad"), ("brightness=1.1", "contrast=1.1"),
    ("gamma=1.01", ""),
    ("w=5&h=5&fit=cover", "w=5&h=5&fit=cover&gravity=n"),
    ("w=5&h=5&fit=cover&gravity=n", "w=5&h=5&fit=cover&gravity=s"),
    ("w=5&h=5&fit=cover&gravity=smart", "w=5&h=5&fit=cover"),
    ("w=5&h=5&fit=cover&focus=0.5,0.2", "w=5&h=5&fit=cover&focus=0.5,0.21"),
    ("", f"watermark={REF}"),
    (f"watermark={REF}", f"watermark={REF.replace('3f', '4f', 1)}"),
    (f"watermark={REF}", f"watermark={REF}&wm_tile"),
    (f"watermark={REF}&wm_offset=1,0", f"watermark={REF}&wm_offset=0,1"),
    (f"watermark={REF}", f"watermark={REF}&wm_scale=1"),
    ("", "max_bytes=5000"), ("max_bytes=5000", "max_bytes=5001"),
])
def test_different_queries_have_different_keys(first, second):
    """Requests for different results never share a key."""
    assert options(first).key() != options(second).key()


def test_key_is_a_canonical_query_string():
    """The key lists the set parameters in table order, defaults left out."""
    query = ("orient=0&bg=fff&mask=circle&grayscale&crop=0,0,5,5&w=10&dpr=2&q=70"
             "&pad=10,0,3,0")
    assert options(query).key() == (
        "w=20&crop=0,0,5,5&pad=10,0,3,0&grayscale=1&mask=circle&q=70&bg=ffffffff"
        "&orient=0"
    )


def test_watermark_in_the_key():
    """The key names the watermark's reference and its set wm_* options, so it
    stays as short as the options: at most a reference long, plus numbers."""
    query = f"wm_opacity=0.255&wm_offset=-1,2&watermark={REF}&wm_gravity=sw"
    assert options(query).key() == (
        f"watermark={REF}&wm_gravity=sw&wm_offset=-1,2&wm_opacity=0.26"
    )


def test_gravity_and_focus_in_the_key():
    """The key shows the gravity and the rounded focus, after fit."""
    query = "focus=0.125,1&fit=cover&w=4&h=3&dpr=2"
    assert options(query).key() == "w=8&h=6&fit=cover&gravity=focus&focus=0.12,1"


def test_no_options_have_an_empty_key():
    """Without parameters nothing changes, and the key says so."""
    assert options("").key() == ""
    assert not options("strip").changes_pixels
    assert options("w=1").changes_pixels


def test_no_parameters_parse_as_the_long_way_does():
    """The shortcut for a query without parameters answers what normalising an
    empty set of options gives (dpr=1 changes nothing and takes the long way)."""
    assert parse({}) == parse({"dpr": ["1"]}) == NO_OPTIONS
    assert parse({}).key() == ""


def test_queries_asked_again_are_parsed_by_their_values():
    """Parsed queries are kept per process: the same query gives the same options,
    another value of the same parameter its own, and a refused query is refused
    every time it comes."""
    assert parse({"w": ["256"], "fit": ["cover"]}).width == 256
    assert parse({"w": ["256"], "fit": ["cover"]}).key() == "w=256"
    assert parse({"w": ["128"], "fit": ["cover"]}).width == 128
    for _ in range(2):
        with pytest.raises(InvalidOptions, match="given more than once"):
            parse({"w": ["128", "256"]})
        with pytest.raises(InvalidOptions, match="unknown parameter 'zoom'"):
            parse({"zoom": ["2"]})
