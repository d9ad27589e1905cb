"""atheris harness for the decode and convert path: ``make fuzz`` (FUZZ_SECONDS).

Each input picks an output format with its first bytes; the rest is the upload. The
upload goes through the same checks as the service (inspect), then, if accepted,
through the converter. A domain error (ServiceError) is the expected answer to bad
bytes; anything else is a crash that libFuzzer saves under reports/fuzz/crashes/.
"""

import contextlib
import io
import sys

try:
    import atheris
except ImportError:  # the test suite runs check() with Hypothesis instead
    atheris = None

with atheris.instrument_imports() if atheris else contextlib.nullcontext():
    from progimage.imaging import converter, inspect
    from progimage.exceptions import ServiceError
    from progimage.imaging.formats import FormatRegistry

# Small enough that no input spends seconds in an encoder.
MAX_PIXELS = 1_000_000
REGISTRY = FormatRegistry.from_pillow()
TARGETS = sorted(REGISTRY.writable(), key=lambda fmt: fmt.name)


def test_one_input(data: bytes) -> None:
    """Inspect, then convert, one fuzzer input; only domain errors are allowed."""
    provider = atheris.FuzzedDataProvider(data)
    target = TARGETS[provider.ConsumeIntInRange(0, len(TARGETS) - 1)]
    check(provider.ConsumeBytes(provider.remaining_bytes()), target)


def check(upload: bytes, target) -> None:
    """Inspect, then convert to ``target``, one upload.

    :raises Exception: anything but a ServiceError is a crash.
    """
    try:
        inspect.inspect(io.BytesIO(upload), REGISTRY, MAX_PIXELS)
        converter.convert(io.BytesIO(upload), target, REGISTRY, MAX_PIXELS)
    except ServiceError:
        pass


def main() -> None:
    """Run libFuzzer with the command line's options (see the Makefile)."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
