"""`make docs-pictures`: one small picture per processing option, made by the app.

The sample photo (the first frame of the corpus' ``sugarshack.mpo``, 640x480) is
uploaded to an app in a temporary folder, and each query of ``PICTURES`` is asked of
it through Flask's test client, as a browser would: the pictures in docs/pictures/
are what the service answers. docs/processing.md shows them. Some pictures are asked
of another upload (``SOURCES``): the photo in a white frame, with a portrait in it, or
in Display P3; ``{logo}`` in a query is the reference of an uploaded logo.
"""

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw

from helpers import display_p3_profile  # tests/helpers.py: PYTHONPATH=src:tests
from progimage import create_app
from progimage.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "corpus" / "images" / "sugarshack.mpo"
PORTRAIT = SAMPLE.with_name("hopper.jpg")
FOLDER = ROOT / "docs" / "pictures"
# Every picture is WebP at this quality: small files, and alpha for the masks.
QUALITY = 60
# The whole set stays below this many bytes (the docs are read in a browser).
BUDGET = 1_000_000
# The picture's name -> the query asked of the sample (or of its SOURCES upload).
PICTURES: dict[str, str] = {
    "original": "w=200",
    "h": "h=100",
    "fit-cover": "w=200&h=100&fit=cover",
    "fit-fill": "w=200&h=100&fit=fill",
    "fit-pad": "w=200&h=100&fit=pad&bg=334",
    "gravity-s": "w=200&h=70&fit=cover&gravity=s",
    "gravity-smart": "w=100&h=150&fit=cover&gravity=smart",
    "gravity-face": "w=100&h=150&fit=cover&gravity=face",
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
    "watermark": "w=200&watermark={logo}&wm_gravity=se&wm_offset=8,8&wm_scale=0.4"
                 "&wm_opacity=0.8",
    "watermark-tile": "w=200&watermark={logo}&wm_tile&wm_offset=12,12&wm_scale=0.25"
                      "&wm_opacity=0.35",
    "q": "w=200&q=5",
    "max-bytes": "w=200&max_bytes=2500",
    "icc-keep": "w=200&icc=keep",
    "icc-srgb": "w=200&icc=srgb",
}
# The pictures asked of another upload than the sample: "bordered" is the sample in a
# flat white frame; "portrait" has the corpus' portrait (hopper.jpg) pasted at its
# left; "p3" is the sample's colours written in Display P3, with that profile.
SOURCES = {
    "trim": "bordered", "gravity-face": "portrait",
    "icc-keep": "p3", "icc-srgb": "p3",
}
# The quality max_bytes chooses, in the picture's caption: the script checks the
# answer's X-Quality against it (change it here if a new encoder chooses another).
CHOSEN_QUALITY = {"max-bytes": 18}
# Parameters without a picture, and why.
NOT_PICTURED = frozenset({
    "dpr",  # w=100&dpr=2 is w=200: the picture of w
    "lossless",  # no visible difference, only the file size
    "strip",  # drops metadata; its effect on colours is icc=srgb's
    "orient",  # the sample has no EXIF orientation to undo or keep
})
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
        + (f" (X-Quality: {CHOSEN_QUALITY[name]})" if name in CHOSEN_QUALITY else "")
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
            refs = {
                "sample": sample,
                "bordered": _store(
                    client, _get(client, sample, "pad=40,60,40,60&bg=fff", "png")
                ),
                "portrait": _store(client, _portrait()),
                "p3": _store(client, _display_p3()),
            }
            logo = _store(client, _logo())
            return {
                name: _picture(client, name, refs[SOURCES.get(name, "sample")],
                               query.replace("{logo}", logo))
                for name, query in PICTURES.items()
            }
        finally:
            app.extensions["progimage"].close()


def _picture(client, name: str, ref: str, query: str) -> bytes:
    """The WebP answer for one picture; max_bytes' quality checked against the
    caption's."""
    query = f"{query}&q={QUALITY}" if "q=" not in query else query
    response = _answer(client, ref, query, "webp")
    if name in CHOSEN_QUALITY:
        quality = int(response.headers["X-Quality"])
        if quality != CHOSEN_QUALITY[name]:
            raise RuntimeError(
                f"?{query} chose quality {quality}; set CHOSEN_QUALITY[{name!r}]"
            )
    return response.data


def _sample() -> bytes:
    """The first frame of the stereo pair as a JPEG (one frame, no animation)."""
    with Image.open(SAMPLE) as image:
        return _jpeg(image.convert("RGB"))


def _jpeg(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, **params)
    return buffer.getvalue()


def _portrait() -> bytes:
    """The sample with the corpus' portrait (a face) at twice its size, at the left."""
    with Image.open(SAMPLE) as image, Image.open(PORTRAIT) as portrait:
        canvas = image.convert("RGB")
        canvas.paste(portrait.convert("RGB").resize((256, 256)), (24, 112))
    return _jpeg(canvas)


def _display_p3() -> bytes:
    """The sample's colours converted to Display P3, saved with that profile: shown
    by a colour-managed viewer, it looks like the sample."""
    profile = display_p3_profile()
    with Image.open(SAMPLE) as image:
        wide = ImageCms.profileToProfile(
            image.convert("RGB"), ImageCms.createProfile("sRGB"),
            ImageCms.ImageCmsProfile(io.BytesIO(profile)), outputMode="RGB",
        )
    return _jpeg(wide, icc_profile=profile)


def _logo() -> bytes:
    """A 160 x 64 PNG: white text on a dark rounded box, transparent around it."""
    logo = Image.new("RGBA", (160, 64))
    draw = ImageDraw.Draw(logo)
    draw.rounded_rectangle((0, 0, 159, 63), 16, fill=(20, 30, 60, 230))
    draw.text((80, 32), "ProgImage", fill="white", anchor="mm", font_size=26)
    buffer = io.BytesIO()
    logo.save(buffer, "PNG")
    return buffer.getvalue()


def _store(client, data: bytes) -> str:
    response = client.put("/storage/", data={"data": (io.BytesIO(data), "sample")})
    if response.status_code != 200:
        raise RuntimeError(f"the upload failed: {response.get_data(as_text=True)}")
    return response.get_data(as_text=True)


def _get(client, ref: str, query: str, extension: str) -> bytes:
    return _answer(client, ref, query, extension).data


def _answer(client, ref: str, query: str, extension: str):
    response = client.get(f"/storage/{ref}.{extension}?{query}")
    if response.status_code != 200:
        raise RuntimeError(f"?{query}: {response.get_data(as_text=True)}")
    return response


if __name__ == "__main__":
    sys.exit(main())
