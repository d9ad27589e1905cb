"""The Pillow side: inspect, decode, process and encode images, in converter
processes (worker.py). This surface is what the server side uses, and it does not
import Pillow: only building a registry (FormatRegistry.from_pillow) and the
modules a converter runs do."""

from .formats import FormatRegistry, ImageFormat
from .jobs import (
    JPEG_FORMATS, ComputedPlaceholder, ConvertJob, Encoded, ImageInfo, InspectJob,
    Job, PlaceholderJob, encoder_params,
)

__all__ = [
    "ComputedPlaceholder", "ConvertJob", "Encoded", "FormatRegistry", "ImageFormat",
    "ImageInfo", "JPEG_FORMATS",
    "InspectJob", "Job", "PlaceholderJob", "encoder_params",
]
