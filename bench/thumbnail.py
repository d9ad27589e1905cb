"""Benchmark: a 256-pixel thumbnail of a 12-megapixel JPEG, naive vs ProgImage.

Run with ``.venv/bin/python bench/thumbnail.py``. The naive path decodes every
pixel and resamples once; ProgImage's path (``GET /storage/<ref>.jpg?w=256``) lets
the JPEG decoder work at 1/2, 1/4 or 1/8 scale (draft mode) and shrinks by a whole
factor with ``reduce`` before the final Lanczos resample.
"""

import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageChops

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from progimage.imaging.converter import convert  # noqa: E402
from progimage.imaging.formats import FormatRegistry  # noqa: E402
from progimage.options import ImageOptions  # noqa: E402

SIZE = (4000, 3000)  # 12 megapixels, a typical phone photo
WIDTH = 256
RUNS = 7
NOISE = 12  # standard deviation of the noise, in 8-bit levels


def photo() -> bytes:
    """A 12 MP JPEG of about 3.5 MB at quality 90, like a phone photo: smooth areas,
    edges (a Mandelbrot set) and sensor-like noise in every channel."""
    gradient = Image.linear_gradient("L").resize(SIZE)
    fractal = Image.effect_mandelbrot(SIZE, (-2.2, -1.2, 1.0, 1.2), 60)
    base = Image.merge("RGB", (gradient, fractal, gradient.rotate(180)))
    noise = Image.merge("RGB", [Image.effect_noise(SIZE, NOISE) for _ in range(3)])
    image = ImageChops.add(base, noise, offset=-128)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def naive(data: bytes) -> bytes:
    """Decode everything, resample once, encode."""
    with Image.open(io.BytesIO(data)) as image:
        height = round(image.height * WIDTH / image.width)
        small = image.resize((WIDTH, height), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    small.save(output, "JPEG")
    return output.getvalue()


def progimage(data: bytes) -> bytes:
    """The service's conversion path with ``?w=256``."""
    registry = FormatRegistry.from_pillow()
    return convert(
        io.BytesIO(data), registry.for_name("JPEG"), registry, 50_000_000,
        ImageOptions(width=WIDTH),
    )


def median_seconds(function, data: bytes) -> float:
    """The median wall time of several runs, after one warm-up run."""
    function(data)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        function(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print both timings and their ratio."""
    data = photo()
    FormatRegistry.from_pillow()
    with Image.open(io.BytesIO(progimage(data))) as result:
        size = result.size
    full = median_seconds(naive, data)
    fast = median_seconds(progimage, data)
    print(f"source: {SIZE[0]}x{SIZE[1]} JPEG, {len(data) / 1e6:.1f} MB")
    print(f"thumbnail: {size[0]}x{size[1]} JPEG")
    print(f"full decode + resize: {full * 1000:7.1f} ms (median of {RUNS})")
    print(f"draft + reduce:       {fast * 1000:7.1f} ms (median of {RUNS})")
    print(f"ratio: {fast / full:.2f} ({full / fast:.1f}x faster)")


if __name__ == "__main__":
    main()
