"""`make docs-pictures`: one small picture per processing option, made by the app.

The sample photo (the first frame of the corpus' ``sugarshack.mpo``, 640x480) is
uploaded to an app in a temporary folder, and each query of ``PICTURES`` is asked of
it through Flask's test client, as a browser would: the pictures in docs/pictures/
are what the service answers. docs/processing.md shows them.
"""

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image

from progimage import create_app
from progimage.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "corpus" / "images" / "sugarshack.mpo"
FOLDER = ROOT / "docs" / "pictures"
# Every picture is WebP at this quality: small files, and alpha for the masks.
QUALITY = 60
# The whole set stays below this many bytes (the docs are read in a browser).
BUDGET = 1_000_000
# The picture's name -> the query asked of the sample (the "bordered" copy for trim:
# the sample with a flat white frame around it).
PICTURES: dict[str, str] = {
    "original": "w=200",
    "h": "h=100",
    "fit-cover": "w=200&h=100&fit=cover",
    "fit-fill": "w=200&h=100&fit=fill",
    "fit-pad": "w=200&h=100&fit=pad&bg=334",
    "gravity-s": "w=200&h=70&fit=cover&gravity=s",
    "gravity-smart": "w=100&h=150&fit=cover&gravity=smart",
    "focus": "w=100&h=150&fit=cover&focus=0.8,0.5",
    "crop": "crop=320,120,240,180&w=200",
    "trim": "trim=20&w=200",
    "pad": "w=180&pad=10,10,10,10&bg=f80",
    "rotate": "w=160&rotate=20",
    "flip": "w=200&flip=h",
    "grayscale": "w=200&grayscale",
    "sepia": "w=200&sepia",
    "brightness": "w=200&brightness=1.6",
    "contrast": "w=200&contrast=2",
    "saturation": "w=200&saturation=2.5",
    "gamma": "w=200&gamma=0.5",
    "blur": "w=200&blur=1.5",
    "sharpen": "w=200&sharpen=2",
    "pixelate": "w=200&pixelate=10",
    "mask-circle": "w=150&h=150&fit=cover&mask=circle",
    "mask-rounded": "w=200&mask=rounded:30",
    "q": "w=200&q=5",
}
BORDERED = frozenset({"trim"})
# Parameters without a picture: they change no pixels, or not visibly here.
NOT_PICTURED = frozenset({"dpr", "lossless", "strip", "icc", "orient"})
DOCUMENT = ROOT / "docs" / "processing.md"
START, END = "<!-- pictures: made by make docs-pictures -->", "<!-- /pictures -->"
COLUMNS = 4


def main() -> int:
    """Write every picture; 1 if the sample is missing or the set is too large."""
    if not SAMPLE.exists():
        print(f"the sample {SAMPLE} is missing (the shared corpus)", file=sys.stderr)
        return 1
    FOLDER.mkdir(exist_ok=True)
    total = 0
    for name, data in pictures().items():
        (FOLDER / f"{name}.webp").write_bytes(data)
        total += len(data)
    text = DOCUMENT.read_text()
    before, _, rest = text.partition(START)
    DOCUMENT.write_text(before + gallery() + rest.partition(END)[2])
    print(f"{len(PICTURES)} pictures, {total:,} bytes in {FOLDER}")
    return 0 if total < BUDGET else 1


def gallery() -> str:
    """The Markdown table of the pictures and their queries, between its markers."""
    cells = [
        f"![{query}](pictures/{name}.webp)<br>`{query}`"
        for name, query in PICTURES.items()
    ]
    cells += [""] * (-len(cells) % COLUMNS)
    rows = [cells[i:i + COLUMNS] for i in range(0, len(cells), COLUMNS)]
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + " --- |" * COLUMNS)
    return "\n".join([START, "", *lines, "", END])


def pictures() -> dict[str, bytes]:
    """Each picture's name and the bytes the app answers for its query."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(storage=folder))
        try:
            client = app.test_client()
            sample = _store(client, _sample())
            bordered = _store(client, _get(client, sample, "pad=40,60,40,60&bg=fff",
                                           "png"))
            return {
                name: _get(client, bordered if name in BORDERED else sample,
                           f"{query}&q={QUALITY}" if "q=" not in query else query,
                           "webp")
                for name, query in PICTURES.items()
            }
        finally:
            app.extensions["progimage"].close()


def _sample() -> bytes:
    """The first frame of the stereo pair as a JPEG (one frame, no animation)."""
    with Image.open(SAMPLE) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def _store(client, data: bytes) -> str:
    response = client.put("/storage/", data={"data": (io.BytesIO(data), "sample")})
    if response.status_code != 200:
        raise RuntimeError(f"the upload failed: {response.get_data(as_text=True)}")
    return response.get_data(as_text=True)


def _get(client, ref: str, query: str, extension: str) -> bytes:
    response = client.get(f"/storage/{ref}.{extension}?{query}")
    if response.status_code != 200:
        raise RuntimeError(f"?{query}: {response.get_data(as_text=True)}")
    return response.data


if __name__ == "__main__":
    sys.exit(main())
