"""`make bench-encoders`: encode time against bytes at equal SSIM, per format and speed.

For a few photos (two from the shared corpus, the generated 1 MP photo of `make
bench`) and one graphic, every format is encoded at each of its speed (effort)
settings over a quality sweep; each encode's time, bytes and luminance SSIM against
the source are recorded. For each speed, the quality that reaches the SSIM WebP
reaches at ProgImage's defaults (quality 80, method 2) on that image is found by
linear interpolation along the sweep, and so are the time and bytes there. The chart
(docs/encoders.png) plots time against bytes at that equal quality; the table it
prints goes into docs/benchmarks.md.
"""

import io
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy
from PIL import Image
from pillow_heif import register_heif_opener
from skimage.metrics import structural_similarity

from run import photo

matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402  (the backend is chosen first)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "images"
CHART = ROOT / "docs" / "encoders.png"
# WebP at ProgImage's defaults (quality 80, method 2) sets the SSIM every format must
# reach: AVIF has to beat it, and WebP, 4:2:0 only, cannot reach JPEG q85's on photos.
REFERENCE_QUALITY, REFERENCE_METHOD = 80, 2
QUALITIES = (30, 45, 60, 70, 80, 90)
# Each format's speed knob: (label, extra save keyword arguments), slowest first.
SPEEDS: dict[str, list[tuple[str, dict[str, object]]]] = {
    "JPEG": [("baseline", {})],
    "WEBP": [(f"method {m}", {"method": m}) for m in (0, 2, 4, 6)],
    "AVIF": [(f"speed {s}", {"speed": s}) for s in (6, 8, 9, 10)],
    "HEIF": [
        (preset, {"enc_params": {"preset": preset}})
        for preset in ("slow", "medium", "fast", "ultrafast")
    ],
}
REPEATS = int(os.environ.get("BENCH_REPEATS", "1"))


@dataclass(frozen=True)
class Point:
    """One encode: its quality knob, the best of ``REPEATS`` times, bytes, SSIM."""

    quality: int
    seconds: float
    size: int
    ssim: float


def sources() -> Iterator[tuple[str, Image.Image, bool]]:
    """(name, RGB image, is it a photo) for each test image."""
    with Image.open(CORPUS / "sugarshack.mpo") as image:
        yield "sugarshack.mpo (640x480)", image.convert("RGB"), True
    with Image.open(CORPUS / "hopper.pcd") as image:
        yield "hopper.pcd (768x512)", image.convert("RGB"), True
    with Image.open(io.BytesIO(photo(1155, 866))) as image:
        yield "generated photo (1155x866)", image.convert("RGB"), True
    with Image.open(CORPUS / "test-card-lossy-tiled.jp2") as image:
        yield "test card (640x480)", image.convert("RGB"), False


def luminance(image: Image.Image) -> numpy.ndarray:
    """The image's luma plane, as SSIM is measured on it."""
    return numpy.asarray(image.convert("L"))


def encode(
    image: Image.Image, source: numpy.ndarray, fmt: str, quality: int,
    params: dict[str, object],
) -> Point:
    """Encode once per repeat and keep the fastest (the others met more contention)."""
    times = []
    for _ in range(REPEATS):
        buffer = io.BytesIO()
        start = time.perf_counter()
        image.save(buffer, fmt, quality=quality, **params)
        times.append(time.perf_counter() - start)
    data = buffer.getvalue()
    return Point(quality, min(times), len(data), ssim(source, data))


def ssim(source: numpy.ndarray, data: bytes) -> float:
    """The SSIM of the encoded ``data``'s luminance against ``source``'s."""
    with Image.open(io.BytesIO(data)) as decoded:
        return float(structural_similarity(source, luminance(decoded), data_range=255))


def at_ssim(points: list[Point], target: float) -> tuple[float, float, float] | None:
    """(quality, seconds, bytes) where the sweep crosses ``target``, interpolated
    between the two neighbouring qualities; None when it never reaches it."""
    for low, high in zip(points, points[1:], strict=False):
        if low.ssim <= target <= high.ssim and high.ssim > low.ssim:
            share = (target - low.ssim) / (high.ssim - low.ssim)
            return (
                low.quality + share * (high.quality - low.quality),
                low.seconds + share * (high.seconds - low.seconds),
                low.size + share * (high.size - low.size),
            )
    return None


def measure() -> dict[tuple[str, str], list[tuple[str, float, float, float]]]:
    """For each (format, speed): per image (name, quality, ms, bytes) at equal SSIM."""
    results: dict[tuple[str, str], list[tuple[str, float, float, float]]] = {}
    for name, image, _ in sources():
        source = luminance(image)
        target = encode(image, source, "WEBP", REFERENCE_QUALITY,
                        {"method": REFERENCE_METHOD}).ssim
        print(f"{name}: SSIM target {target:.4f}", file=sys.stderr)
        for fmt, speeds in SPEEDS.items():
            for label, params in speeds:
                sweep = [encode(image, source, fmt, q, params) for q in QUALITIES]
                found = at_ssim(sweep, target)
                if found:
                    quality, seconds, size = found
                    results.setdefault((fmt, label), []).append(
                        (name, quality, seconds * 1000, size)
                    )
                    print(f"  {fmt} {label}: q{quality:.0f} {seconds * 1000:.1f} ms "
                          f"{size / 1024:.1f} KiB", file=sys.stderr, flush=True)
    return results


def chart(results: dict[tuple[str, str], list[tuple[str, float, float, float]]],
          images: int) -> None:
    """Time against bytes, summed over the images, one line per format."""
    figure, axes = pyplot.subplots(figsize=(8, 5))
    for fmt in SPEEDS:
        rows = [(label, rows) for (f, label), rows in results.items()
                if f == fmt and len(rows) == images]
        xs = [sum(r[2] for r in found) for _, found in rows]
        ys = [sum(r[3] for r in found) / 1024 for _, found in rows]
        axes.plot(xs, ys, marker="o", label=fmt)
        for (label, _), x, y in zip(rows, xs, ys, strict=True):
            axes.annotate(label.split()[-1], (x, y), fontsize=7,
                          textcoords="offset points", xytext=(3, 3))
    axes.set_xscale("log")
    axes.set_xlabel("encode time, ms, summed over the images (log)")
    axes.set_ylabel("KiB, summed over the images")
    axes.set_title(f"Equal SSIM (WebP q80 method 2's), {images} images")
    axes.legend()
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(CHART, dpi=100)


def main() -> None:
    """Measure, print a Markdown table, draw the chart."""
    register_heif_opener()
    load = os.getloadavg()[0]
    results = measure()
    images = len(list(sources()))
    print(f"Load average (1 min) at the start: {load:.2f}; at the end: "
          f"{os.getloadavg()[0]:.2f}; best of {REPEATS} encodes each.\n")
    print("| format | speed | images reaching the SSIM | mean quality knob "
          "| ms (sum) | KiB (sum) |")
    print("|---|---|---:|---:|---:|---:|")
    for (fmt, label), rows in results.items():
        print(f"| {fmt} | {label} | {len(rows)}/{images} "
              f"| {sum(r[1] for r in rows) / len(rows):.0f} "
              f"| {sum(r[2] for r in rows):.1f} "
              f"| {sum(r[3] for r in rows) / 1024:.1f} |")
    chart(results, images)


if __name__ == "__main__":
    main()
