"""What Pillow reads and writes here: its plugin tables, and each save handler
probed with small blank images."""

import io
import mimetypes
import warnings

from PIL import Image

from . import plugins
from .formats import ImageFormat, servable

#: The modes probed against every save handler.
PROBE_MODES = (
    "1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "I;16", "F",
)
HIGH_DEPTH_MODES = frozenset({"I", "I;16", "F"})
ALPHA_MODES = frozenset({"LA", "PA", "RGBA"})

# Some formats have several extensions; Pillow lists them in no useful order.
PREFERRED_EXTENSIONS = ("jpg", "tif", "png", "eps", "ppm", "jp2", "tga", "sgi", "h5")


def pillow_formats() -> list[ImageFormat]:
    """Every format Pillow knows here, with what it can really read and write."""
    plugins.register()
    Image.init()
    extensions: dict[str, list[str]] = {}
    for ext, name in Image.registered_extensions().items():
        extensions.setdefault(name, []).append(ext.lstrip(".").lower())
    formats = []
    for name in sorted(set(Image.OPEN) | set(Image.SAVE)):
        exts = _ordered(extensions.get(name, []))
        readable = name in Image.OPEN
        modes = _probe_modes(name, readable) if name in Image.SAVE else {}
        writable = bool(modes) and bool(exts)
        formats.append(
            ImageFormat(
                name=name,
                extensions=exts,
                mime=_mime(name, exts),
                readable=readable,
                writable=writable,
                multi_frame=name in Image.SAVE_ALL,
                modes=frozenset(modes),
                keeps_palette=modes.get("P") == "P",
            )
        )
    return formats


def _ordered(extensions: list[str]) -> tuple[str, ...]:
    preferred = [ext for ext in PREFERRED_EXTENSIONS if ext in extensions]
    return tuple(preferred + sorted(set(extensions) - set(preferred)))


def _mime(name: str, extensions: tuple[str, ...]) -> str:
    if name in Image.MIME:
        return servable(Image.MIME[name], name)
    for ext in extensions:
        guessed, _ = mimetypes.guess_type(f"x.{ext}", strict=False)
        if guessed and guessed.startswith("image/"):
            return guessed
    return f"image/x-{name.lower()}"


def _probe_modes(name: str, readable: bool) -> dict[str, str]:
    """The modes a save handler accepts and, where Pillow reads the format back,
    stores without dropping alpha or depth (BMP takes RGBA but drops the alpha),
    each with the mode it comes back in."""
    kept = {}
    with warnings.catch_warnings():
        # Startup only: e.g. the IM plugin warns that it is deprecated.
        warnings.simplefilter("ignore")
        for mode in PROBE_MODES:
            back = _round_trip(name, mode, readable)
            if back and _keeps(mode, back):
                kept[mode] = back
    return kept


def _round_trip(name: str, mode: str, readable: bool) -> str | None:
    buffer = io.BytesIO()
    try:
        Image.new(mode, (8, 8)).save(buffer, name)
    except Exception:  # any failure means: this handler cannot write this mode
        return None
    if not readable:
        return mode
    buffer.seek(0)
    try:
        with Image.open(buffer) as back:
            back.load()
            return back.mode
    except Exception:  # written, but unreadable here (EPS without Ghostscript)
        return mode


def _keeps(mode: str, back: str) -> bool:
    same_depth = (mode in HIGH_DEPTH_MODES) == (back in HIGH_DEPTH_MODES)
    # GIF stores RGBA as a palette with one transparent entry: alpha survives.
    same_alpha = mode not in ALPHA_MODES or back in ALPHA_MODES | {"P"}
    return same_depth and same_alpha
