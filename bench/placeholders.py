"""Benchmark: what the placeholder (BlurHash and average colour) costs, per format
and size: in the upload's check, or later.

Run with ``.venv/bin/python bench/placeholders.py``. Times ``inspect`` (the check a
converter runs on every upload) in this process, as it is and with the placeholder
left out, and the placeholder job that computes it from the original when the check
left it out (a large JPEG's first ``/info``, another image's first ``/placeholder``),
and prints a Markdown table of the fastest runs, in milliseconds.
"""

import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from progimage.imaging import PlaceholderJob, inspect as check, worker  # noqa: E402
from progimage.imaging.formats import FormatRegistry  # noqa: E402

RUNS = 15
MAX_PIXELS = 100_000_000
CASES = [
    ("JPEG", (4000, 3000), {"quality": 90}),
    ("JPEG", (1155, 866), {"quality": 90}),
    ("PNG", (500, 500), {}),
    ("PNG", (640, 480), {}),
    ("PNG", (1600, 1200), {}),
    ("WEBP", (1600, 1200), {"quality": 80}),
]


def photo(fmt: str, size: tuple[int, int], params: dict) -> bytes:
    """A photo-like image (gradients and grain), the same on every run."""
    grain = Image.effect_noise(size, 24).filter(ImageFilter.GaussianBlur(1))
    ramp = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (ramp, grain, ramp.transpose(Image.Transpose.ROTATE_90)
                                .resize(size)))
    output = io.BytesIO()
    image.save(output, fmt, **params)
    return output.getvalue()


def fastest_ms(action: Callable[[], object]) -> float:
    """The fastest of ``RUNS`` calls, in milliseconds: the one least slowed by other
    work on the machine."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def check_ms(data: bytes, registry: FormatRegistry) -> tuple[float, float]:
    """The upload check of ``data`` without and with the placeholder, fastest of
    ``RUNS`` each, in milliseconds."""
    with_placeholder, decode = check._with_placeholder, check.decode

    def inspect() -> object:
        return check.inspect(io.BytesIO(data), registry, MAX_PIXELS)

    try:
        on = fastest_ms(inspect)
        # Left out: no placeholder, and no PNG decode made for one.
        check._with_placeholder = lambda info, image: info
        check.decode = lambda *args, **kwargs: None
        off = fastest_ms(inspect)
    finally:
        check._with_placeholder, check.decode = with_placeholder, decode
    return off, on


def later_ms(data: bytes, registry: FormatRegistry) -> float | None:
    """The placeholder job computing it from the original, fastest of ``RUNS``, in
    milliseconds; None when the upload check computes it."""
    info = check.inspect(io.BytesIO(data), registry, MAX_PIXELS)
    if info.blurhash:
        return None
    job = PlaceholderJob(registry, MAX_PIXELS, "", info.width, info.height,
                         info.orientation)
    return fastest_ms(lambda: worker.run(job, data))


def main() -> None:
    registry = FormatRegistry.from_pillow()
    print("| upload | check without | with placeholder | added ms | later, ms |")
    print("|---|---:|---:|---:|---:|")
    for fmt, size, params in CASES:
        data = photo(fmt, size, params)
        off, on = check_ms(data, registry)
        later = later_ms(data, registry)
        name = f"{fmt} {size[0]}x{size[1]}"
        print(f"| {name} | {off:.1f} | {on:.1f} | {on - off:+.1f} | "
              f"{'' if later is None else f'{later:.1f}'} |")


if __name__ == "__main__":
    main()
