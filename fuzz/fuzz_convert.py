"""atheris harness for the decode and convert path: ``make fuzz`` (FUZZ_SECONDS).

Each input picks an output format and a query of processing options with its first
bytes; the rest is the upload. The upload goes through the same checks as the
service (inspect), then, if accepted, through the converter with those options. A
domain error (ServiceError) is the expected answer to bad bytes; anything else is a
crash that libFuzzer saves under reports/fuzz/crashes/.
"""

import contextlib
import io
import sys
import urllib.parse

try:
    import atheris
except ImportError:  # the test suite runs check() with Hypothesis instead
    atheris = None

with atheris.instrument_imports() if atheris else contextlib.nullcontext():
    from progimage.imaging import converter, inspect
    from progimage.exceptions import ServiceError
    from progimage.imaging.formats import FormatRegistry
    from progimage.options import parse

# Small enough that no input spends seconds in an encoder.
MAX_PIXELS = 1_000_000
REGISTRY = FormatRegistry.from_pillow()
TARGETS = sorted(REGISTRY.writable(), key=lambda fmt: fmt.name)
# Queries that reach each processing step: none, resizing and cropping, rotation
# and flips, colour, filters, trimming and padding, metadata and quality.
QUERIES = [
    "", "w=64", "w=40&h=40&fit=cover", "w=40&h=40&fit=pad&bg=ff000080",
    "crop=2,2,10,10", "rotate=33&flip=h", "grayscale&sepia", "blur=2&sharpen=1",
    "brightness=1.5&contrast=0.5&saturation=2", "trim=10&pad=3,3,3,3", "strip&q=20",
    "w=64&gravity=smart", "pixelate=4", "icc=srgb",
]
OPTIONS = [parse(urllib.parse.parse_qs(query, keep_blank_values=True))
           for query in QUERIES]


def test_one_input(data: bytes) -> None:
    """Inspect, then convert, one fuzzer input; only domain errors are allowed."""
    provider = atheris.FuzzedDataProvider(data)
    target = TARGETS[provider.ConsumeIntInRange(0, len(TARGETS) - 1)]
    options = OPTIONS[provider.ConsumeIntInRange(0, len(OPTIONS) - 1)]
    check(provider.ConsumeBytes(provider.remaining_bytes()), target, options)


def check(upload: bytes, target, options=OPTIONS[0]) -> None:
    """Inspect, then convert to ``target`` with ``options``, one upload.

    :raises Exception: anything but a ServiceError is a crash.
    """
    try:
        inspect.inspect(io.BytesIO(upload), REGISTRY, MAX_PIXELS)
        converter.convert(io.BytesIO(upload), target, REGISTRY, MAX_PIXELS, options)
    except ServiceError:
        pass


def main() -> None:
    """Run libFuzzer with the command line's options (see the Makefile)."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
