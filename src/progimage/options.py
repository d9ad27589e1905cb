"""Image operations asked for in the query string, parsed once into a typed value.

Parsing is table-driven: ``PARAMETERS`` maps each public query parameter to the
field it sets and the function that checks and converts its text. ``ImageOptions.key``
renders the options back as a canonical query string, so two requests that ask for
the same result (``w=100&dpr=2`` and ``w=200``, ``rotate=-90`` and ``rotate=270``)
share one key.
"""

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace

from .exceptions import InvalidOptions
from .references import is_reference

FITS = ("contain", "cover", "fill", "inside", "pad")
# Where fit=cover cuts: the eight compass points, the centre, a focus point, the
# window with the most detail or the faces (with the optional face detector).
COMPASS = ("center", "n", "ne", "e", "se", "s", "sw", "w", "nw")
GRAVITIES = (*COMPASS, "focus", "smart", "face")
# icc=keep carries a colour profile where the target can; icc=srgb converts to sRGB.
ICC_CHOICES = ("keep", "srgb")
FLIPS = {"h": "h", "v": "v", "hv": "hv", "vh": "hv"}
# Longest side a request may ask for; JPEG and WebP cannot store more anyway.
MAX_SIDE = 16_383
MAX_DPR = 4.0
MAX_BLUR = 100.0
MAX_SHARPEN = 10.0
# brightness, contrast, saturation and gamma: factors, 1 for no change.
MAX_FACTOR = 10.0
MAX_PIXELATE = 1000
MAX_BYTES = 999_999_999
# Decimal numbers (dpr, focus, rotate, colour factors, blur, sharpen) are rounded
# to this many places when parsed, so that the conversion and the cache key see the
# same value.
DECIMALS = 2
TRUE = ("", "1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
# How many distinct queries each process keeps parsed (a few hundred bytes each).
PARSED_QUERIES = 1024
HEX_COLOUR = re.compile(r"#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")

Colour = tuple[int, int, int, int]
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class ImageOptions:
    """What to do to an image on its way out; the defaults change nothing."""

    #: Width and height of the box to resize into, ``dpr`` already applied.
    width: int | None = None
    height: int | None = None
    #: How the image fits the box: one of ``FITS``.
    fit: str = "contain"
    #: Which part ``fit=cover`` keeps: one of ``GRAVITIES``.
    gravity: str = "center"
    #: ``(x, y)`` fractions of width and height that ``gravity=focus`` centres on.
    focus: tuple[float, float] | None = None
    #: ``(x, y, width, height)`` cut from the (oriented) image before resizing.
    crop: Box | None = None
    #: Cut borders of the top left pixel's colour, within this distance; None: keep.
    trim: int | None = None
    #: Pixels added around the result: ``(top, right, bottom, left)``, filled with bg.
    pad: Box | None = None
    #: Clockwise rotation in degrees, in [0, 360).
    rotate: float = 0.0
    #: ``"h"``, ``"v"`` or ``"hv"``; empty for none.
    flip: str = ""
    grayscale: bool = False
    sepia: bool = False
    #: Colour factors (1 = unchanged): 0 is black, flat grey, grey; gamma > 1 lightens.
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    gamma: float = 1.0
    #: Gaussian blur standard deviation in pixels; 0 for none.
    blur: float = 0.0
    #: Unsharp-mask strength (1 = 100 %); 0 for none.
    sharpen: float = 0.0
    #: Side of the square blocks the image is averaged into; 0 for none.
    pixelate: int = 0
    #: ``"circle"``, ``"rounded:<radius>"`` or the reference of a stored mask image.
    mask: str = ""
    #: The reference of a stored image laid over the result; empty for none.
    watermark: str = ""
    #: Where the watermark lies: one of ``COMPASS``.
    wm_gravity: str = "center"
    #: ``(x, y)`` pixels from the edges ``wm_gravity`` names (right and down from
    #: a centre); with ``wm_tile``, the gap between tiles.
    wm_offset: tuple[int, int] | None = None
    #: Watermark width as a fraction of the result's width; None: its own size.
    wm_scale: float | None = None
    wm_opacity: float = 1.0
    #: Repeat the watermark over the whole result.
    wm_tile: bool = False
    #: Encoder quality 1-100 for lossy formats; None for the encoder's default.
    quality: int | None = None
    lossless: bool = False
    #: The highest quality (up to ``quality`` or the format's default) whose result
    #: fits in this many bytes; None: no size target.
    max_bytes: int | None = None
    #: RGBA fill for rotation corners and for flattening alpha; None for the default.
    background: Colour | None = None
    #: Drop EXIF, XMP and comments (the ICC colour profile stays).
    strip: bool = False
    #: ``"keep"``: the ICC profile stays where the target stores one, else the
    #: pixels are converted to sRGB; ``"srgb"``: always converted, no profile.
    icc: str = "keep"
    #: Apply the EXIF orientation.
    orient: bool = True

    def key(self) -> str:
        """A canonical query string for these options; empty when they change nothing.

        Equal keys mean equal results, so the key can name a cached variant.
        """
        return self._key

    @functools.cached_property
    def _key(self) -> str:
        """``key()``, made once per options object (parsed queries are kept and
        read again: NO_OPTIONS by every plain read)."""
        parts = []
        for name, (field, _) in PARAMETERS.items():
            if field is None:
                continue
            value = getattr(self, field)
            if value != DEFAULTS[field]:
                parts.append(f"{name}={_render(field, value)}")
        return "&".join(parts)

    @property
    def changes_pixels(self) -> bool:
        """Whether any operation besides orientation and encoding is asked for."""
        return bool(
            self.width or self.height or self.crop or self.rotate or self.flip
            or self.grayscale or self.sepia or self.blur or self.sharpen or self.mask
            or self.pad or self.trim is not None or self.adjusts_colour
            or self.pixelate or self.watermark
        )

    @property
    def adjusts_colour(self) -> bool:
        """Whether brightness, contrast, saturation or gamma is asked for."""
        return (self.brightness, self.contrast, self.saturation, self.gamma) != (
            1.0, 1.0, 1.0, 1.0
        )

    @property
    def watermark_reference(self) -> str | None:
        """The stored image laid over the result, if any."""
        return self.watermark or None

    @property
    def mask_reference(self) -> str | None:
        """The stored image used as the mask, if the mask names one."""
        return self.mask if is_reference(self.mask) else None


#: The options of a request without any: the image as stored, oriented.
NO_OPTIONS = ImageOptions()


def parse(query: Mapping[str, list[str]]) -> ImageOptions:
    """Check and convert query parameters (name -> every value given for it).

    :raises InvalidOptions: a parameter is unknown, repeated or has a bad value;
        the message names it and says why.
    """
    if not query:
        # Most reads ask for nothing: skip building and normalising (tests check
        # that the long way gives the same).
        return NO_OPTIONS
    # Pages ask for the same few queries again and again: each is parsed once per
    # process (the options are frozen; a refusal is raised again, never kept).
    return _parse_items(tuple((name, tuple(given)) for name, given in query.items()))


@functools.lru_cache(maxsize=PARSED_QUERIES)
def _parse_items(query: tuple[tuple[str, tuple[str, ...]], ...]) -> ImageOptions:
    """``parse`` of the query as (name, values) pairs.

    :raises InvalidOptions: see ``parse``.
    """
    values: dict[str, object] = {}
    dpr = 1.0
    for name, given in query:
        if name not in PARAMETERS:
            raise InvalidOptions(
                f"unknown parameter '{name}'; known: {', '.join(PARAMETERS)}"
            )
        if len(given) != 1:
            raise InvalidOptions(f"parameter '{name}' is given more than once")
        field, convert = PARAMETERS[name]
        try:
            value = convert(given[0].strip())
        except ValueError as error:
            raise InvalidOptions(f"parameter '{name}': {error}") from None
        if field is None:
            dpr = value
        else:
            values[field] = value
    if values.get("strip") and "icc" not in values:
        # Stripping drops the colour profile too: its colours go into the pixels.
        values["icc"] = "srgb"
    options = _check_watermark(_check_gravity(ImageOptions(**values)))
    _check_max_bytes(options)
    return _apply_dpr(_normalised(options), dpr)


def _normalised(options: ImageOptions) -> ImageOptions:
    """``options`` with the fit and gravity that mean the same as what was asked."""
    if options.width is None and options.height is None:
        options = replace(options, fit="contain")
    elif (options.width is None or options.height is None) and options.fit != "inside":
        # With one side given, cover and fill have nothing to fill: same as contain.
        options = replace(options, fit="contain")
    if options.fit != "cover":
        # Only cover cuts: the gravity changes nothing, so the key leaves it out.
        options = replace(options, gravity="center", focus=None)
    return options


def parse_focus(text: str) -> tuple[float, float]:
    """A focus point written as ``focus=`` takes it: ``x,y`` fractions.

    :raises InvalidOptions: it is not one; the message says why.
    """
    try:
        return _focus(text.strip())
    except ValueError as error:
        raise InvalidOptions(f"focus: {error}") from None


def _check_gravity(options: ImageOptions) -> ImageOptions:
    """``focus=x,y`` alone means ``gravity=focus``; with another gravity it is an
    error, and ``gravity=focus`` needs it."""
    if options.focus is not None and options.gravity == "center":
        return replace(options, gravity="focus")
    if options.focus is not None and options.gravity != "focus":
        raise InvalidOptions(
            f"parameter 'focus' goes with gravity=focus, not gravity={options.gravity}"
        )
    if options.focus is None and options.gravity == "focus":
        raise InvalidOptions("parameter 'gravity': focus needs focus=x,y")
    return options


def _check_watermark(options: ImageOptions) -> ImageOptions:
    """The ``wm_*`` options change nothing without a watermark: the key leaves them
    out. A tile gap cannot be negative."""
    if not options.watermark:
        return replace(
            options, **{name: DEFAULTS[name] for name in WATERMARK_FIELDS}
        )
    if options.wm_tile and options.wm_offset and min(options.wm_offset) < 0:
        raise InvalidOptions(
            "parameter 'wm_offset': with wm_tile it is the gap between tiles, "
            "at least 0,0"
        )
    return options


def _check_max_bytes(options: ImageOptions) -> None:
    """:raises InvalidOptions: ``max_bytes`` with ``lossless``, which has no
    quality to lower."""
    if options.lossless and options.max_bytes is not None:
        raise InvalidOptions(
            "parameter 'max_bytes' lowers the quality to fit: not with lossless"
        )


def _apply_dpr(options: ImageOptions, dpr: float) -> ImageOptions:
    scaled = {}
    for field in ("width", "height"):
        side = getattr(options, field)
        if side is not None:
            scaled[field] = max(1, round(side * dpr))
            if scaled[field] > MAX_SIDE:
                raise InvalidOptions(
                    f"parameter '{field[0]}': {side} x dpr {dpr:g} is above "
                    f"the largest side of {MAX_SIDE}"
                )
    return replace(options, **scaled)


def _number(low: float, high: float, *, low_open: bool = False) -> Callable:
    """A parser for a finite decimal number in [low, high] or (low, high], rounded
    to ``DECIMALS`` places first: the value the conversion uses, and the key shows."""
    bound = f"above {low:g}" if low_open else f"at least {low:g}"

    def convert(text: str) -> float:
        try:
            value = round(float(text), DECIMALS)
        except (ValueError, OverflowError):
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high) or (
            low_open and value == low
        ):
            raise ValueError(
                f"must be a number {bound} and at most {high:g} "
                f"(rounded to {DECIMALS} decimals)"
            )
        return value + 0.0  # no negative zero

    return convert


def _integer(low: int, high: int) -> Callable:
    """A parser for a whole number in [low, high]."""

    def convert(text: str) -> int:
        if not re.fullmatch(r"\+?[0-9]{1,9}", text) or not low <= int(text) <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return int(text)

    return convert


def _flag(text: str) -> bool:
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise ValueError("must be 1 or 0 (or true/false, or no value)")


def _one_of(text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}")
    return text


def _fit(text: str) -> str:
    return _one_of(text, FITS)


def _gravity(text: str) -> str:
    return _one_of(text, GRAVITIES)


def _focus(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError("must be x,y: fractions of the width and height, such as "
                         "0.25,0.5")
    fraction = _number(0, 1)
    return fraction(parts[0].strip()), fraction(parts[1].strip())


def _icc(text: str) -> str:
    return _one_of(text, ICC_CHOICES)


def _compass(text: str) -> str:
    return _one_of(text, COMPASS)


def _offset(text: str) -> tuple[int, int] | None:
    parts = text.split(",")
    if len(parts) != 2 or not all(re.fullmatch(r"-?[0-9]{1,5}", p) for p in parts):
        raise ValueError("must be x,y in whole pixels, such as 10,-10")
    x, y = (int(part) for part in parts)
    if max(abs(x), abs(y)) > MAX_SIDE:
        raise ValueError(f"each must be at most {MAX_SIDE} pixels either way")
    return (x, y) if x or y else None


def _watermark(text: str) -> str:
    if not is_reference(text):
        raise ValueError("must be the reference of a stored image")
    return text


def _flip(text: str) -> str:
    if text not in FLIPS:
        raise ValueError("must be h, v or hv")
    return FLIPS[text]


def _angle(text: str) -> float:
    return round(_number(-3600, 3600)(text) % 360, DECIMALS) % 360


def _crop(text: str) -> Box:
    parts = text.split(",")
    if len(parts) != 4 or not all(re.fullmatch(r"[0-9]{1,9}", p) for p in parts):
        raise ValueError("must be x,y,width,height in whole pixels, such as 0,0,100,80")
    x, y, width, height = (int(part) for part in parts)
    if width == 0 or height == 0:
        raise ValueError("the width and height of the crop must be at least 1")
    return x, y, width, height


def _pad(text: str) -> Box | None:
    parts = text.split(",")
    if len(parts) != 4 or not all(re.fullmatch(r"[0-9]{1,5}", p) for p in parts):
        raise ValueError("must be top,right,bottom,left in whole pixels, such as "
                         "10,0,10,0")
    top, right, bottom, left = (int(part) for part in parts)
    if max(top, right, bottom, left) > MAX_SIDE:
        raise ValueError(f"each side must be at most {MAX_SIDE}")
    return (top, right, bottom, left) if any((top, right, bottom, left)) else None


def _mask(text: str) -> str:
    shape, _, radius = text.partition(":")
    if text == "circle" or is_reference(text):
        return text
    if shape == "rounded":
        if not re.fullmatch(r"[0-9]{1,5}", radius) or int(radius) == 0:
            raise ValueError("the radius in rounded:<radius> must be a whole number "
                             "of pixels, at least 1")
        return f"rounded:{int(radius)}"
    raise ValueError(
        "must be circle, rounded:<radius> or the reference of a stored image"
    )


def _colour(text: str) -> Colour:
    match = HEX_COLOUR.fullmatch(text)
    if not match:
        raise ValueError("must be a hex colour: rgb, rgba, rrggbb or rrggbbaa")
    digits = match.group(1)
    if len(digits) <= 4:
        digits = "".join(digit * 2 for digit in digits)
    digits = digits.ljust(8, "f")
    red, green, blue, alpha = (int(digits[i:i + 2], 16) for i in range(0, 8, 2))
    return red, green, blue, alpha


def _render(field: str, value: object) -> str:
    """A value as it appears in a canonical key."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # Exact, not ``:g``: no two values the conversion tells apart share a key.
        return str(int(value)) if value.is_integer() else repr(value)
    if field == "background":
        return "".join(f"{channel:02x}" for channel in value)
    if field in ("crop", "focus", "pad", "wm_offset"):
        return ",".join(_render("", part) for part in value)
    return str(value)


# Query parameter -> (ImageOptions field, parser); ``dpr`` (field None) scales w and h.
# The order is the order of the canonical key.
PARAMETERS: dict[str, tuple[str | None, Callable[[str], object]]] = {
    "w": ("width", _integer(1, MAX_SIDE)),
    "h": ("height", _integer(1, MAX_SIDE)),
    "fit": ("fit", _fit),
    "gravity": ("gravity", _gravity),
    "focus": ("focus", _focus),
    "dpr": (None, _number(1, MAX_DPR)),
    "crop": ("crop", _crop),
    "trim": ("trim", _integer(0, 255)),
    "pad": ("pad", _pad),
    "rotate": ("rotate", _angle),
    "flip": ("flip", _flip),
    "grayscale": ("grayscale", _flag),
    "sepia": ("sepia", _flag),
    "brightness": ("brightness", _number(0, MAX_FACTOR)),
    "contrast": ("contrast", _number(0, MAX_FACTOR)),
    "saturation": ("saturation", _number(0, MAX_FACTOR)),
    "gamma": ("gamma", _number(0, MAX_FACTOR, low_open=True)),
    "blur": ("blur", _number(0, MAX_BLUR, low_open=True)),
    "sharpen": ("sharpen", _number(0, MAX_SHARPEN, low_open=True)),
    "pixelate": ("pixelate", _integer(2, MAX_PIXELATE)),
    "mask": ("mask", _mask),
    "watermark": ("watermark", _watermark),
    "wm_gravity": ("wm_gravity", _compass),
    "wm_offset": ("wm_offset", _offset),
    "wm_scale": ("wm_scale", _number(0, 1, low_open=True)),
    "wm_opacity": ("wm_opacity", _number(0, 1)),
    "wm_tile": ("wm_tile", _flag),
    "q": ("quality", _integer(1, 100)),
    "lossless": ("lossless", _flag),
    "max_bytes": ("max_bytes", _integer(1, MAX_BYTES)),
    "bg": ("background", _colour),
    "strip": ("strip", _flag),
    "icc": ("icc", _icc),
    "orient": ("orient", _flag),
}
DEFAULTS = {field.name: field.default for field in fields(ImageOptions)}
WATERMARK_FIELDS = ("wm_gravity", "wm_offset", "wm_scale", "wm_opacity", "wm_tile")
