"""Benchmark: the cost of gravity=smart and face, watermark and max_bytes against a
plain resize of the same 1-megapixel JPEG, in one converter process (no HTTP, no pool).

Run with ``.venv/bin/python bench/processing.py``; prints the median of 7 runs per
row, and each row's multiple of the plain resize to the same format. The photo has
the corpus' portrait in it (when the shared corpus is there), so that face finds one;
the gravity=face row is left out without OpenCV (the face extra).
"""

import importlib.util
import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from progimage.imaging.converter import convert  # noqa: E402
from progimage.config import Settings  # noqa: E402
from progimage.imaging.formats import FormatRegistry  # noqa: E402
from progimage.imaging.jobs import encoder_params  # noqa: E402
from progimage.options import parse  # noqa: E402

SIZE = (1155, 866)  # 1.0 megapixel
PORTRAIT = Path(__file__).resolve().parents[2] / "shared/corpus/images/hopper.jpg"
RUNS = 7
# The server's default encoder settings: max_bytes searches down from their quality.
ENCODERS = encoder_params(Settings())
LOGO = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"  # any reference: the bytes are given
COVER = "w=512&h=512&fit=cover"
ROWS = (
    ("jpg", "w=512"),
    ("jpg", COVER),
    ("jpg", f"{COVER}&gravity=smart"),
    *((("jpg", f"{COVER}&gravity=face"),) if importlib.util.find_spec("cv2") else ()),
    ("jpg", f"w=512&watermark={LOGO}&wm_gravity=se&wm_scale=0.25&wm_opacity=0.6"),
    ("jpg", f"w=512&watermark={LOGO}&wm_tile&wm_scale=0.1&wm_opacity=0.3"),
    ("jpg", "w=512&max_bytes=20000"),
    ("webp", "w=512"),
    ("webp", "w=512&max_bytes=9000"),
    ("avif", "w=512"),
    ("avif", "w=512&max_bytes=8000"),
)


def photo() -> bytes:
    """A 1 MP JPEG with smooth areas, edges and noise, like a photo."""
    gradient = Image.linear_gradient("L").resize(SIZE)
    fractal = Image.effect_mandelbrot(SIZE, (-2.2, -1.2, 1.0, 1.2), 60)
    base = Image.merge("RGB", (gradient, fractal, gradient.rotate(180)))
    noise = Image.merge("RGB", [Image.effect_noise(SIZE, 12) for _ in range(3)])
    image = ImageChops.add(base, noise, offset=-128)
    if PORTRAIT.exists():
        # 400 px: at 256 px the cascade misses this face on the 320 px analysis copy.
        with Image.open(PORTRAIT) as portrait:
            image.paste(portrait.convert("RGB").resize((400, 400)), (60, 300))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def logo() -> bytes:
    """A 400x160 RGBA logo: a white rounded box with a transparent surround."""
    image = Image.new("RGBA", (400, 160))
    ImageDraw.Draw(image).rounded_rectangle((0, 0, 399, 159), 30, fill="white")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def median_ms(data: bytes, mark: bytes, extension: str, query: str) -> float:
    registry = FormatRegistry.from_pillow()
    target = registry.for_extension(extension)
    pairs = dict(part.split("=", 1) if "=" in part else (part, "")
                 for part in query.split("&"))
    options = parse({name: [value] for name, value in pairs.items()})
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = convert(
            io.BytesIO(data), target, registry, 50_000_000, options,
            encoder=ENCODERS.get(target.name), mark=mark if options.watermark else None,
        )
        times.append((time.perf_counter() - started) * 1000)
    quality = getattr(result, "quality", None)
    note = f", quality {quality}, {len(result):,} bytes" if quality else ""
    print(f"{extension:5} {query[:60]:60} {statistics.median(times):7.1f} ms{note}",
          end="")
    return statistics.median(times)


def main() -> None:
    """Each row's time, its multiple of the plain resize (the format's first row) and,
    where an earlier row's query starts it (a centre cut for gravity=), of that row."""
    data, mark = photo(), logo()
    measured: dict[tuple[str, str], float] = {}
    plain: dict[str, str] = {}
    for extension, query in ROWS:
        ms = median_ms(data, mark, extension, query)
        plain.setdefault(extension, query)
        bases = [earlier for (ext, earlier) in measured
                 if ext == extension and query.startswith(f"{earlier}&")]
        base = max(bases, key=len, default=plain[extension])
        note = (f", x{ms / measured[extension, base]:.2f} of {base}"
                if base != plain[extension] else "")
        print(f"  x{ms / measured.get((extension, plain[extension]), ms):.2f}{note}")
        measured[extension, query] = ms


if __name__ == "__main__":
    main()
