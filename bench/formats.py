"""Benchmark: what a cold conversion into each writable format costs, in process.

Run with ``make bench-formats``. Converts the 1 MP photo of ``make bench`` (a JPEG)
and the same photo as a half-transparent PNG into every format Pillow writes, through
``converter.convert`` as a converter process does it (decode, mode adaptation,
encode at ProgImage's defaults), and prints a Markdown table of the fastest of
``RUNS`` runs in milliseconds with the result's bytes, slowest format first.
"""

import io
import sys
import time

from PIL import Image

from progimage.imaging import converter
from progimage.imaging.formats import FormatRegistry
from run import photo

RUNS = 3
MAX_PIXELS = 100_000_000


def sources() -> dict[str, bytes]:
    """The 1 MP photo as uploaded (JPEG) and as a graphic with alpha (PNG)."""
    jpeg = photo(1155, 866)
    graphic = Image.open(io.BytesIO(jpeg)).convert("RGBA")
    graphic.putalpha(200)
    png = io.BytesIO()
    graphic.save(png, "PNG")
    return {"JPEG photo": jpeg, "RGBA PNG": png.getvalue()}


def fastest(data: bytes, target, registry: FormatRegistry) -> tuple[float, int]:
    """The fastest of ``RUNS`` conversions in milliseconds, and the result's size."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = converter.convert(io.BytesIO(data), target, registry, MAX_PIXELS)
        times.append((time.perf_counter() - started) * 1000)
    return min(times), len(result)


def main() -> None:
    registry = FormatRegistry.from_pillow()
    inputs = sources()
    rows = []
    for target in registry.writable():
        cells = [fastest(data, target, registry) for data in inputs.values()]
        rows.append((max(ms for ms, _ in cells), target.name, cells))
        print(f"{target.name}: done", file=sys.stderr)
    print("| format | " + " | ".join(f"{name} ms | bytes" for name in inputs) + " |")
    print("|---|" + "---:|---:|" * len(inputs))
    for _, name, cells in sorted(rows, reverse=True):
        print(f"| {name} | " + " | ".join(f"{ms:,.1f} | {size:,}" for ms, size in cells)
              + " |")


if __name__ == "__main__":
    main()
