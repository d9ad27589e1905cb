"""QOI through libqoi: the pixels and bytes of Pillow's own (Python) codec, refusals
included."""

import io

import pytest
from PIL import Image, QoiImagePlugin

from helpers import CORPUS, decode, upload
from progimage.imaging import plugins

plugins.register()


def _image(mode: str) -> Image.Image:
    """Noise with a run of one colour and, in RGBA, an alpha ramp: every QOI op."""
    noise = Image.effect_noise((96, 64), 90).convert("RGB")
    alpha = [Image.linear_gradient("L").resize(noise.size)] if mode == "RGBA" else []
    image = Image.merge(mode, [*noise.split(), *alpha])
    image.paste((200, 30, 30, 255)[:len(mode)], (0, 0, 96, 20))
    return image


def _reference_pixels(data: bytes) -> bytes:
    """The pixels Pillow's own decoder reads from ``data``."""
    with Image.open(io.BytesIO(data)) as image:
        pixels = Image.new(image.mode, image.size)
        decoder = QoiImagePlugin.QoiDecoder(image.mode)
        image.fp.seek(image.tile[0].offset)
        decoder.setfd(image.fp)
        decoder.setimage(pixels.im)
        decoder.decode(b"")
        return pixels.tobytes()


def _encoded(image: Image.Image) -> bytes:
    output = io.BytesIO()
    image.save(output, "QOI")
    return output.getvalue()


@pytest.mark.parametrize("name", sorted(
    path.name for path in (CORPUS / "images").glob("*.qoi")
))
def test_corpus_qoi_decodes_to_pillows_pixels(name):
    """Each QOI of the corpus decodes to the pixels Pillow's own decoder reads."""
    data = (CORPUS / "images" / name).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        pixels = image.tobytes()
    assert pixels == _reference_pixels(data)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_qoi_round_trips_every_pixel(mode):
    """What is written reads back exactly, through both codecs."""
    image = _image(mode)
    data = _encoded(image)
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.mode == mode
        assert decoded.tobytes() == image.tobytes()
    assert _reference_pixels(data) == image.tobytes()


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_qoi_is_what_pillows_own_writer_writes(client, mode):
    """A QOI variant holds the bytes Pillow's reference (Python) encoder writes for the
    same pixels: runs, repeats, small and large steps, alpha changes among them."""
    image = _image(mode)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    ref = upload(client, buffer.getvalue()).get_data(as_text=True)
    with client.get(f"/storage/{ref}.qoi") as response:
        assert response.status_code == 200
        received = response.data
    expected = io.BytesIO()
    image.encoderinfo = {}
    QoiImagePlugin._save(image, expected, "")  # Pillow's own encoder
    assert received[:4] == b"qoif" and received[12] == len(mode)
    assert received == expected.getvalue()
    assert decode(received).tobytes() == image.tobytes()


def test_every_cut_of_a_qoi_is_refused():
    """A QOI cut anywhere after its header is refused, never padded with pixels."""
    data = _encoded(_image("RGBA").resize((24, 16)))
    for end in range(plugins.QOI_HEADER, len(data)):
        with Image.open(io.BytesIO(data[:end])) as image:
            with pytest.raises(OSError, match="truncated"):
                image.load()


def test_cut_qoi_upload_is_400(client):
    """The upload check refuses a cut QOI as damaged."""
    data = _encoded(_image("RGB"))
    response = upload(client, data[: len(data) // 2])
    assert response.status_code == 400
    assert "truncated" in response.get_json()["detail"]
