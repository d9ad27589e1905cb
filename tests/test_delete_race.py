"""A delete wins over a conversion in flight: nothing of the image comes back."""

import threading
from concurrent.futures import ThreadPoolExecutor

from helpers import make_image, upload

# Every wait of these tests ends by then, whatever happens.
DEADLINE = 30.0


def convert_while(service, client, url: str, meanwhile, monkeypatch):
    """GET ``url`` with the conversion held until ``meanwhile()`` has run; the
    answer's (status, body)."""
    started, release = threading.Event(), threading.Event()
    convert = service.converters.convert

    def held(*args, **kwargs):
        started.set()
        if not release.wait(DEADLINE):
            raise TimeoutError("the test never released the conversion")
        return convert(*args, **kwargs)

    def get():
        with client.get(url) as response:
            return response.status_code, response.get_data()

    monkeypatch.setattr(service.converters, "convert", held)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(get)
        try:
            assert started.wait(DEADLINE)
            meanwhile()
        finally:
            release.set()
        return answer.result(DEADLINE)


def cached_files(cache, ref: str) -> list[str]:
    """The names of the local variant files of ``ref``, temporary ones included."""
    return sorted(path.name for path in cache.folder.glob(f"*/{ref}/*"))


def test_a_delete_during_a_conversion_leaves_no_variant(app, client, monkeypatch):
    """The conversion finishes after the delete: it answers 404 and keeps nothing."""
    service = app.extensions["progimage"]
    ref = upload(client, make_image("PNG")).get_data(as_text=True)

    def delete():
        assert client.delete(f"/storage/{ref}").status_code == 204

    status, _ = convert_while(
        service, client, f"/storage/{ref}.webp?w=20", delete, monkeypatch
    )
    assert status == 404
    assert cached_files(service.cache, ref) == []
    assert client.get(f"/storage/{ref}.webp?w=20").status_code == 404


def test_a_conversion_without_a_delete_is_kept(app, client, monkeypatch):
    """The check that the original is still there keeps a normal conversion."""
    service = app.extensions["progimage"]
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    status, body = convert_while(
        service, client, f"/storage/{ref}.webp?w=20", lambda: None, monkeypatch
    )
    assert status == 200
    assert body[:4] == b"RIFF"
    assert len(cached_files(service.cache, ref)) == 1
