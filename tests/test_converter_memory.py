"""The memory budget of a conversion: a 12 MP original's conversion keeps its
converter process within the peak stated in docs/operations.md."""

import io
from pathlib import Path

from PIL import Image

from progimage.config import Settings
from progimage.web import create_app

# docs/operations.md, "Memory": the converter's peak for a 12 MP WebP or JPEG.
BUDGET_MIB = 256
# The same section: AVIF's peak (libaom's buffers) has a budget of its own.
AVIF_BUDGET_MIB = 512


def twelve_megapixels() -> bytes:
    """A 4000×3000 JPEG (gradients in three channels), made in milliseconds."""
    size = (4000, 3000)
    down = Image.linear_gradient("L").resize(size)
    across = Image.linear_gradient("L").rotate(90).resize(size)
    image = Image.merge("RGB", (down, across, Image.radial_gradient("L").resize(size)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM in /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmHWM for process {pid}")


def converted_peak_mib(folder: Path, extension: str) -> float:
    """Convert a 12 MP original to ``extension`` at full size in a fresh converter;
    check that the result decodes whole; return the converter's peak RSS in MiB."""
    app = create_app(Settings(storage=str(folder / "data"), convert_timeout=120))
    pool = app.extensions["progimage"].converters
    try:
        client = app.test_client()
        ref = client.put("/storage/", data=twelve_megapixels(),
                         content_type="image/jpeg").get_data(as_text=True)
        pool.retire_idle(0)  # the upload check's converter: the peak is its own
        response = client.get(f"/storage/{ref}.{extension}")
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.get_data())).size == (4000, 3000)
        [pid] = pool.processes()
        return peak_rss_mib(pid)
    finally:
        app.extensions["progimage"].close()


def test_a_12_megapixel_webp_stays_within_the_converter_budget(tmp_path):
    """Converted at full size in a fresh converter, the 12 MP WebP comes out whole
    and the converter's peak resident memory stays within the budget."""
    assert 30 < converted_peak_mib(tmp_path, "webp") <= BUDGET_MIB


def test_a_12_megapixel_avif_stays_within_the_converter_budget(tmp_path):
    """The same for AVIF, whose encoder (libaom) keeps larger buffers: a budget of
    its own."""
    assert 30 < converted_peak_mib(tmp_path, "avif") <= AVIF_BUDGET_MIB
