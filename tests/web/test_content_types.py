"""Image answers: typed by the format registry, sandboxed, and refused when the
store disagrees with itself."""

import dataclasses
import json
from pathlib import Path

import pytest

from helpers import make_image, upload
from progimage import create_app

SANDBOX = "default-src 'none'; sandbox"
SCRIPT = b"<script>alert(document.cookie)</script>"


def stored(app, ref: str, name: str) -> Path:
    """A file of the image ``ref`` in the filesystem store."""
    root = Path(app.extensions["progimage"].storage.root)
    return root / ref[:2] / ref[2:4] / ref / name


def tamper_record(app, ref: str, **values) -> None:
    """Overwrite fields of the stored record, as a writer behind our back would."""
    path = stored(app, ref, "record.json")
    record = json.loads(path.read_bytes())
    path.write_text(json.dumps({**record, **values}))


@pytest.fixture(name="tampered")
def _tampered(app, client) -> str:
    """A PNG whose record now says text/html and whose original is a script of
    the same size (so the size check alone does not catch it)."""
    original = make_image("PNG")
    ref = upload(client, original).get_data(as_text=True)
    tamper_record(app, ref, mime="text/html")
    stored(app, ref, "original").write_bytes(SCRIPT.ljust(len(original)))
    return ref


@pytest.mark.parametrize("suffix, mime", [
    ("", "image/png"), ("?w=8", "image/png"), (".gif", "image/gif"),
    (".pdf", "application/pdf"),
])
def test_image_answers_are_sandboxed(client, suffix, mime):
    """Originals and variants carry nosniff, a sandboxing CSP and an image type."""
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    with client.get(f"/storage/{ref}{suffix}") as response:
        assert response.status_code == 200
        assert response.mimetype == mime
        assert response.headers["Content-Security-Policy"] == SANDBOX
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("headers, status", [
    ({}, 200), ({"Range": "bytes=0-7"}, 206),
], ids=["whole", "range"])
def test_tampered_mime_is_not_served(client, tampered, headers, status):
    """The stored mime string is never the Content-Type: the registry's is."""
    with client.get(f"/storage/{tampered}", headers=headers) as response:
        assert response.status_code == status
        assert response.data.startswith(b"<script>")
        assert response.mimetype == "image/png"
        assert response.headers["Content-Security-Policy"] == SANDBOX
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    info = client.get(f"/storage/{tampered}/info").get_json()
    assert info["mime"] == "image/png"


def test_tampered_original_behind_nginx_pointer_is_typed_by_registry(
    settings, tmp_path
):
    """With X-Accel-Redirect too, the type comes from the registry."""
    app = create_app(dataclasses.replace(settings, accel_redirect="/_internal/"))
    try:
        client = app.test_client()
        ref = upload(client, make_image("GIF")).get_data(as_text=True)
        tamper_record(app, ref, mime="text/html")
        with client.get(f"/storage/{ref}") as response:
            assert "X-Accel-Redirect" in response.headers
            assert response.mimetype == "image/gif"
            assert response.headers["Content-Security-Policy"] == SANDBOX
    finally:
        app.extensions["progimage"].close()


@pytest.mark.parametrize("suffix", ["", ".png", "?w=8", "/info", "?w=8&mask={ref}"])
def test_record_size_mismatch_is_refused(app, client, caplog, suffix):
    """An original whose size is not the record's is never served nor converted:
    503 with a clear detail, and an error line in the log."""
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    stored(app, ref, "original").write_bytes(SCRIPT)
    with client.get(f"/storage/{ref}{suffix.format(ref=ref)}") as response:
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert "fails its integrity check" in response.get_json()["detail"]
        assert b"<script>" not in response.data
    assert f"stored image {ref} fails its integrity check" in caplog.text


@pytest.mark.parametrize("suffix", ["", "/info"])
def test_record_naming_an_unknown_format_is_refused(app, client, suffix):
    """A record naming no format of the registry is refused with 503, not a 500."""
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    tamper_record(app, ref, format="HTML")
    with client.get(f"/storage/{ref}{suffix}") as response:
        assert response.status_code == 503
        assert "format this server does not know" in response.get_json()["detail"]
