"""The format registry: extension <-> Pillow format <-> MIME type, from Pillow itself.

Nothing here is a hand-written list of formats: the registry reads Pillow's plugin
tables once per process and probes each save handler with small blank images, so a
format counts as writable only if Pillow can really write it here (stub handlers such
as HDF5 or WMF cannot), and the modes it stores without loss are known.
"""

import dataclasses
import functools
import io
import mimetypes
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import Image

from ..exceptions import UnknownFormat
from . import plugins

#: The modes probed against every save handler.
PROBE_MODES = (
    "1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "I;16", "F",
)
HIGH_DEPTH_MODES = frozenset({"I", "I;16", "F"})
ALPHA_MODES = frozenset({"LA", "PA", "RGBA"})

# Some formats have several extensions; Pillow lists them in no useful order.
PREFERRED_EXTENSIONS = ("jpg", "tif", "png", "eps", "ppm", "jp2", "tga", "sgi", "h5")

# Pillow's PPM writer picks the Netpbm subtype from the image mode, not from the
# extension, so an extension that names a subtype narrows the modes instead.
NETPBM_SUBTYPES = {
    "pbm": frozenset({"1"}),
    "pgm": frozenset({"L", "I"}),
    "ppm": frozenset({"RGB"}),
    "pfm": frozenset({"F"}),
}
# The only answers that are not image/*: PDF and PostScript outputs. Any other type
# Pillow names (MPEG's video/mpeg) is served as image/x-<name>, so that no stored
# image can ever be answered with a type a browser would run as a page.
DOCUMENT_TYPES = frozenset({"application/pdf", "application/postscript"})


# Formats Pillow reads by running another program (Ghostscript runs PostScript, a
# language that can read and write files): input is off unless the setting allows it.
DELEGATED_READERS = {"EPS": "PROGIMAGE_POSTSCRIPT"}


@dataclass(frozen=True)
class ImageFormat:
    """One Pillow format as the service sees it."""

    name: str
    extensions: tuple[str, ...]
    mime: str
    readable: bool
    writable: bool
    #: Can store several frames (animation or pages).
    multi_frame: bool = False
    #: Modes that this format stores without losing alpha or bit depth.
    modes: frozenset[str] = frozenset()
    #: Palette images come back as palette images (with their transparency).
    keeps_palette: bool = False
    #: The extension that narrows the format's modes (Netpbm's ``pgm``), if any.
    subtype: str = ""

    @property
    def extension(self) -> str:
        """The extension that names this format in URLs and file names."""
        return self.extensions[0]

    @property
    def variant_name(self) -> str:
        """What tells this output apart from every other in a cache key: two
        extensions of one format that write different bytes have different names."""
        return f"{self.name}:{self.subtype}" if self.subtype else self.name


class FormatRegistry:
    """Look formats up by URL extension or by the name Pillow detected."""

    def __init__(
        self, formats: list[ImageFormat], switched_off: Mapping[str, str] | None = None
    ) -> None:
        self._by_name = {fmt.name: fmt for fmt in formats}
        self._by_extension = {
            ext: fmt for fmt in formats for ext in fmt.extensions
        }
        #: Formats Pillow reads that this server refuses as input, each with the
        #: setting that would turn it on.
        self.switched_off = dict(switched_off or {})

    @classmethod
    @functools.cache
    def from_pillow(cls) -> "FormatRegistry":
        """Build the registry from Pillow's plugins (cached for the process)."""
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
        return cls(formats)

    def reading(self, postscript: bool) -> "FormatRegistry":
        """This registry with the delegated readers (EPS) switched off as input,
        unless ``postscript``; writing them needs no delegate and stays on."""
        if postscript:
            return self
        off = {
            name: setting for name, setting in DELEGATED_READERS.items()
            if name in self._by_name and self._by_name[name].readable
        }
        formats = [
            dataclasses.replace(fmt, readable=False) if fmt.name in off else fmt
            for fmt in self._by_name.values()
        ]
        return FormatRegistry(formats, off)

    def for_name(self, name: str) -> ImageFormat:
        """The format Pillow reports as ``Image.format`` (any letter case)."""
        return self._by_name[name.upper()]

    def for_extension(self, extension: str) -> ImageFormat:
        """The writable format for a URL extension, case-insensitive.

        :raises UnknownFormat: no format has this extension, or it is read-only.
        """
        fmt = self._by_extension.get(extension.lower())
        if fmt is None:
            raise UnknownFormat(
                f"'.{extension}' is not an image format extension; "
                f"writable extensions: {self._writable_list()}"
            )
        if not fmt.writable:
            raise UnknownFormat(
                f"{fmt.name} ('.{extension}') can be read but not written; "
                f"writable extensions: {self._writable_list()}"
            )
        subtype = NETPBM_SUBTYPES.get(extension.lower())
        if subtype and fmt.name == "PPM":
            return dataclasses.replace(
                fmt,
                extensions=(extension.lower(),),
                mime=_servable(
                    mimetypes.guess_type(f"x.{extension}")[0] or fmt.mime, fmt.name
                ),
                modes=fmt.modes & subtype,
                subtype=extension.lower(),
            )
        return fmt

    def writable(self) -> list[ImageFormat]:
        """Every format that can be requested as output, by name."""
        return [fmt for fmt in self._by_name.values() if fmt.writable]

    def readable(self) -> list[ImageFormat]:
        """Every format that uploads may be in, by name."""
        return [fmt for fmt in self._by_name.values() if fmt.readable]

    def _writable_list(self) -> str:
        return ", ".join(sorted(e for f in self.writable() for e in f.extensions))


def _ordered(extensions: list[str]) -> tuple[str, ...]:
    preferred = [ext for ext in PREFERRED_EXTENSIONS if ext in extensions]
    return tuple(preferred + sorted(set(extensions) - set(preferred)))


def _mime(name: str, extensions: tuple[str, ...]) -> str:
    if name in Image.MIME:
        return _servable(Image.MIME[name], name)
    for ext in extensions:
        guessed, _ = mimetypes.guess_type(f"x.{ext}", strict=False)
        if guessed and guessed.startswith("image/"):
            return guessed
    return f"image/x-{name.lower()}"


def _servable(mime: str | None, name: str) -> str:
    """``mime`` if it is an image or document type, else ``image/x-<name>``."""
    if mime and (mime.startswith("image/") or mime in DOCUMENT_TYPES):
        return mime
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
