"""The jobs a converter process runs, one explicit, picklable payload per kind, and
what they answer; free of Pillow, so that the server side can build them."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config import Settings
from ..options import NO_OPTIONS, ImageOptions
from .formats import FormatRegistry, ImageFormat

# Pillow's names for JPEG files: their check reads markers, they decode at 1/8 scale.
JPEG_FORMATS = frozenset({"JPEG", "MPO"})


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
    #: The stored bytes of the image ``watermark=<ref>`` names, likewise.
    watermark: bytes | None = None


@dataclass(frozen=True)
class PlaceholderJob:
    """The placeholder PNG: decoded from ``blurhash``, or with none (a record from
    before placeholders, a large upload) computed from the stored image; shaped
    as the stored ``width`` x ``height`` once turned upright (``orientation``)."""

    formats: FormatRegistry
    max_pixels: int
    blurhash: str = ""
    width: int = 1
    height: int = 1
    orientation: int = 1


Job = InspectJob | ConvertJob | PlaceholderJob


@dataclass(frozen=True)
class ComputedPlaceholder:
    """A placeholder computed from the stored image (its record had no BlurHash):
    the PNG, and the BlurHash and average colour the record can keep."""

    png: bytes
    blurhash: str
    colour: str


class Encoded(bytes):
    """An encoded result (it is its bytes) and the quality ``max_bytes`` chose."""

    #: The encoder quality that made these bytes fit; None if none was chosen.
    quality: int | None = None

    @classmethod
    def at(cls, data: bytes, quality: int) -> "Encoded":
        """``data``, encoded at ``quality``."""
        encoded = cls(data)
        encoded.quality = quality
        return encoded


@dataclass(frozen=True)
class ImageInfo:
    """What an upload is, as Pillow decoded it."""

    format: ImageFormat
    width: int
    height: int
    frames: int
    mode: str
    #: EXIF orientation, 1 (upright) when the image has none or an invalid one.
    orientation: int = 1
    #: The image has an alpha channel or a transparent palette entry or colour.
    has_alpha: bool = False
    #: The BlurHash and average colour (``#rrggbb``) of the first frame, upright;
    #: empty when the upload check did not decode it (see ``inspect``).
    blurhash: str = ""
    colour: str = ""


def encoder_params(settings: Settings) -> dict[str, dict[str, object]]:
    """Keyword arguments for ``Image.save``, by Pillow format name."""
    return {
        "JPEG": {
            "quality": settings.jpeg_quality,
            "optimize": settings.jpeg_optimize,
            "progressive": settings.jpeg_progressive,
        },
        "PNG": {"compress_level": settings.png_compress_level},
        "WEBP": {"quality": settings.webp_quality, "method": settings.webp_method},
        "AVIF": {"quality": settings.avif_quality, "speed": settings.avif_speed},
        "HEIF": {"quality": settings.heif_quality,
                 "enc_params": {"preset": settings.heif_preset}},
    }
