"""The jobs a converter process runs: one explicit, picklable payload per kind."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..options import NO_OPTIONS, ImageOptions
from .formats import FormatRegistry, ImageFormat


@dataclass(frozen=True)
class InspectJob:
    """Check an upload: identify it and decode it in bounded memory."""

    formats: FormatRegistry
    max_pixels: int


@dataclass(frozen=True)
class ConvertJob:
    """Convert a stored image to ``target`` after ``options``."""

    target: ImageFormat
    formats: FormatRegistry
    max_pixels: int
    options: ImageOptions = NO_OPTIONS
    #: The format's default save settings (the options override them).
    encoder: Mapping[str, object] = field(default_factory=dict)
    #: The stored bytes of the image a ``mask=<ref>`` option names: the converter
    #: decodes them, never the server.
    mask: bytes | None = None


Job = InspectJob | ConvertJob
