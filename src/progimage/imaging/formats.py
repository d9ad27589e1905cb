"""The format registry: extension <-> Pillow format <-> MIME type, from Pillow itself.

Nothing here is a hand-written list of formats: the registry reads Pillow's plugin
tables once per process and probes each save handler with small blank images
(probe.py), so a format counts as writable only if Pillow can really write it here
(stub handlers such as HDF5 or WMF cannot), and the modes it stores without loss are
known. This module itself does not import Pillow: the service and the pool hold a
registry without loading it.
"""

import dataclasses
import functools
import hashlib
import mimetypes
import pickle
from collections.abc import Mapping
from dataclasses import dataclass

from ..exceptions import UnknownFormat

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
# Registries a converter process keeps, by the digest of their pickled state: more
# than a server ever sends (one, or two with PostScript switched off).
REVIVED_REGISTRIES = 8


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

    def __reduce__(self) -> tuple[object, tuple[bytes, bytes]]:
        """Pickled as the digest and bytes of its state, made once: a converter
        process takes back the registry it unpickled for an earlier job with the
        same digest. Every job carries the registry, and pickling its hundred
        formats, then unpickling them, cost 270 µs of each upload's check."""
        return (_revive, self._pickled_state)

    @functools.cached_property
    def _pickled_state(self) -> tuple[bytes, bytes]:
        state = pickle.dumps(
            (list(self._by_name.values()), self.switched_off),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        return hashlib.sha256(state).digest(), state

    @classmethod
    @functools.cache
    def from_pillow(cls) -> "FormatRegistry":
        """Build the registry from Pillow's plugins (cached for the process)."""
        # Pillow is loaded by whoever builds a registry (the app factory, once), not
        # by the service and the pool that only hold one.
        from .probe import pillow_formats

        return cls(pillow_formats())

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
                mime=servable(
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


def servable(mime: str | None, name: str) -> str:
    """``mime`` if it is an image or document type, else ``image/x-<name>``."""
    if mime and (mime.startswith("image/") or mime in DOCUMENT_TYPES):
        return mime
    return f"image/x-{name.lower()}"


_revived: dict[bytes, FormatRegistry] = {}


def _revive(digest: bytes, state: bytes) -> FormatRegistry:
    """The registry pickled as ``state``: the one unpickled before with the same
    ``digest`` when there is one."""
    registry = _revived.get(digest)
    if registry is None:
        if len(_revived) >= REVIVED_REGISTRIES:
            _revived.clear()
        formats, switched_off = pickle.loads(state)
        registry = _revived[digest] = FormatRegistry(formats, switched_off)
    return registry
