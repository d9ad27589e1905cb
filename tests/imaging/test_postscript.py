"""EPS input: off by default; when on, Ghostscript is confined to one job's folder
and killed with its converter."""

import os
import tempfile
import time
from pathlib import Path

import pytest

from helpers import app_client, decode, make_image, upload
from progimage import create_app
from progimage.config import Settings
from system_programs import require

# Seconds the PostScript tests give a conversion.
TIMEOUT = 1.0
# Seconds allowed beyond the limit: starting a converter (importing Pillow) is not
# counted against it.
MARGIN = 5.0


def eps(body: str) -> bytes:
    """A 10 x 10 point EPS file running ``body`` (Pillow reads no line longer than
    255 bytes in an EPS header)."""
    return (
        "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n"
        f"{body}\n%%EOF\n"
    ).encode()


BLACK_SQUARE = eps("0 setgray 0 0 10 10 rectfill")


@pytest.fixture(name="server_tmp")
def _server_tmp(tmp_path, monkeypatch) -> Path:
    """The temporary folder of the server process (and, by inheritance, of its
    converters), empty and private to this test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(name="postscript_app")
def _postscript_app(tmp_path, server_tmp):
    """An app reading EPS, with one fresh converter (started with ``server_tmp``)
    and a short time limit."""
    require("gs")
    app = create_app(Settings(
        storage=str(tmp_path / "data"), postscript=True,
        convert_timeout=TIMEOUT, convert_workers=1,
    ))
    yield app
    app.extensions["progimage"].close()


def test_eps_upload_is_refused_by_default(client):
    """Without the setting an EPS upload answers 400 naming the setting."""
    response = upload(client, BLACK_SQUARE)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "PROGIMAGE_POSTSCRIPT=1" in response.get_json()["detail"]


def test_stored_eps_is_not_read_once_the_setting_is_off(tmp_path, server_tmp):
    """An EPS stored while the setting was on converts with 400, not 500, after it
    is turned off."""
    require("gs")
    storage = str(tmp_path / "data")
    with app_client(Settings(storage=storage, postscript=True)) as on:
        ref = upload(on, BLACK_SQUARE).get_data(as_text=True)
    with app_client(Settings(storage=storage)) as off:
        response = off.get(f"/storage/{ref}.png")
    assert response.status_code == 400
    assert "PROGIMAGE_POSTSCRIPT=1" in response.get_json()["detail"]


def test_eps_output_needs_no_setting(client):
    """Writing EPS runs no Ghostscript: it stays available."""
    ref = upload(client, make_image()).get_data(as_text=True)
    response = client.get(f"/storage/{ref}.eps")
    assert response.status_code == 200
    assert response.data.startswith(b"%!PS")


def test_eps_is_read_when_the_setting_is_on(postscript_app):
    """With the setting on, an EPS stores and converts to its pixels."""
    client = postscript_app.test_client()
    ref = upload(client, BLACK_SQUARE).get_data(as_text=True)
    image = decode(client.get(f"/storage/{ref}.png").data).convert("L")
    assert image.getpixel((5, 5)) == 0


def test_eps_cannot_write_into_the_server_tmp_folder(postscript_app, server_tmp):
    """PostScript that writes a file into the server's temporary folder, at upload
    and at conversion, leaves nothing there."""
    target = server_tmp / "planted"
    client = postscript_app.test_client()
    attack = eps(
        f"{{ ({target}) (w) file dup (x) writestring closefile }} stopped pop\n"
        "0 0 10 10 rectfill"
    )
    response = upload(client, attack)
    assert response.status_code == 200
    assert client.get(f"/storage/{response.get_data(as_text=True)}.png").status_code \
        == 200
    assert not target.exists()


def test_eps_cannot_read_a_file_in_the_server_tmp_folder(postscript_app, server_tmp):
    """PostScript that paints black only if it can open another upload's bytes in
    the server's temporary folder paints white."""
    victim = server_tmp / "victim-original"
    victim.write_bytes(make_image())
    client = postscript_app.test_client()
    attack = eps(
        f"1 setgray {{ ({victim}) (r) file closefile }} stopped not "
        "{ 0 setgray } if 0 0 10 10 rectfill"
    )
    ref = upload(client, attack).get_data(as_text=True)
    image = decode(client.get(f"/storage/{ref}.png").data).convert("L")
    assert image.getpixel((5, 5)) == 255


# PostScript: (a) (b) cat -> (ab)
CAT = (
    "/cat { exch dup length 2 index length add string dup dup 4 2 roll copy length\n"
    "4 -1 roll putinterval } def"
)


def test_eps_finds_nothing_left_by_an_earlier_job(postscript_app, server_tmp):
    """A file an EPS writes beside its own copy (the one place Ghostscript lets it
    write) is gone when the converter's next EPS job looks for it."""
    client = postscript_app.test_client()
    plant = eps(
        f"{CAT}\n({server_tmp}/*)\n{{ (-planted) cat (w) file closefile }}\n"
        "300 string filenameforall 0 0 10 10 rectfill"
    )
    assert upload(client, plant).status_code == 200
    look = eps(
        f"1 setgray\n({server_tmp}/*)\n{{ (planted) search "
        "{ pop pop pop 0 setgray } { pop } ifelse } 300 string filenameforall "
        "0 0 10 10 rectfill"
    )
    ref = upload(client, look).get_data(as_text=True)
    image = decode(client.get(f"/storage/{ref}.png").data).convert("L")
    assert image.getpixel((5, 5)) == 255


@pytest.mark.serial
def test_endless_eps_answers_422_within_the_limit(postscript_app, server_tmp):
    """A `{ } loop` EPS is refused with 422 once the limit has passed, and no
    Ghostscript is left running."""
    client = postscript_app.test_client()
    upload(client, make_image())  # the converter is up: its start is not timed
    started = time.monotonic()
    response = upload(client, eps("{ } loop"))
    elapsed = time.monotonic() - started
    assert response.status_code == 422
    assert "too costly" in response.get_json()["detail"]
    assert TIMEOUT <= elapsed < TIMEOUT + MARGIN
    assert _ghostscripts_gone(str(server_tmp), deadline=time.monotonic() + MARGIN)
    assert upload(client, make_image()).status_code == 200


def _ghostscripts_gone(folder: str, deadline: float) -> bool:
    """Whether, before ``deadline``, no ``gs`` process is working in ``folder``
    (its command line names its files there)."""
    while time.monotonic() < deadline:
        if not _ghostscripts_in(folder):
            return True
        time.sleep(0.05)  # polling /proc: there is nothing to wait on
    return False


def _ghostscripts_in(folder: str) -> list[int]:
    """Process ids of running ``gs`` processes whose arguments mention ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue  # not a process, or gone meanwhile
        if command and Path(os.fsdecode(command[0])).name == "gs" and any(
            folder.encode() in argument for argument in command
        ):
            found.append(int(entry.name))
    return found
