"""POST /storage/ with a url: fetched, checked and stored as if uploaded."""

import threading

import pytest
from helpers import decode, make_image, upload
from loopback import answer, serve

from progimage.config import Settings

JPEG = make_image("JPEG", (40, 30))
UNREADABLE = "the file is not an image in a format we read"


def jpeg(request):
    answer(request, 200, JPEG, "image/jpeg")


@pytest.fixture(name="fetching_client")
def _fetching_client(tmp_path, app_factory):
    """A client whose server may fetch from 127.0.0.1 (listed on purpose)."""
    settings = Settings(storage=str(tmp_path / "data"), fetch_allowed_hosts="127.0.0.1",
                        max_upload_bytes=100_000, fetch_timeout=2)
    return app_factory(settings).test_client()


@pytest.mark.parametrize("how", ["form", "json"])
def test_an_image_url_is_stored_like_an_upload(fetching_client, how):
    """The answer is the reference; the original is the fetched bytes; /info names
    where it came from."""
    with serve(jpeg) as server:
        url = f"{server}/photo.jpg"
        sent = {"data": {"url": url}} if how == "form" else {"json": {"url": url}}
        response = fetching_client.post("/storage/", **sent)
    assert response.status_code == 200
    ref = response.get_data(as_text=True)
    assert response.headers["Location"] == f"/storage/{ref}"
    with fetching_client.get(f"/storage/{ref}") as original:
        assert original.data == JPEG
    info = fetching_client.get(f"/storage/{ref}/info").get_json()
    assert (info["format"], info["width"], info["source_url"]) == ("JPEG", 40, url)
    assert decode(fetching_client.get(f"/storage/{ref}.png").data).size == (40, 30)


def test_uploads_have_no_source_url(client):
    ref = upload(client, JPEG).get_data(as_text=True)
    assert "source_url" not in client.get(f"/storage/{ref}/info").get_json()


def test_loopback_urls_are_refused_by_default(client):
    with serve(jpeg) as server:
        response = client.post("/storage/", data={"url": f"{server}/photo.jpg"})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == (
        "127.0.0.1 is a loopback address; it is not fetched"
    )


@pytest.mark.parametrize("url, status, detail", [
    ("file:///etc/passwd", 400, "only http and https URLs are fetched"),
    ("http://[::ffff:169.254.169.254]/", 400, "the cloud metadata address"),
])
def test_refused_urls_say_why(client, url, status, detail):
    response = client.post("/storage/", json={"url": url})
    assert response.status_code == status
    assert detail in response.get_json()["detail"]


def test_what_is_fetched_passes_the_upload_checks(fetching_client):
    """Bytes declared an image that are none: refused like such an upload."""
    with serve(lambda request: answer(request, 200, b"not an image", "image/png")
               ) as server:
        response = fetching_client.post("/storage/", data={"url": server})
    assert response.status_code == 400
    assert response.get_json()["detail"] == UNREADABLE


@pytest.mark.parametrize("handler, status", [
    (lambda request: answer(request, 500, b"oops", "text/plain"), 502),
    (lambda request: answer(request, 200, b"<html></html>", "text/html"), 502),
    (lambda request: answer(request, 200, b"\0" * 100_001, "image/png"), 502),
])
def test_remote_failures_answer_502(fetching_client, handler, status):
    with serve(handler) as server:
        response = fetching_client.post("/storage/", data={"url": server})
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_a_remote_too_slow_answers_504(tmp_path, app_factory):
    settings = Settings(storage=str(tmp_path / "data"), fetch_allowed_hosts="127.0.0.1",
                        fetch_timeout=0.3)
    client = app_factory(settings).test_client()
    done = threading.Event()
    with serve(lambda request: done.wait(5)) as server:
        response = client.post("/storage/", data={"url": server})
        done.set()
    assert response.status_code == 504
    assert "took longer than 0.3 s" in response.get_json()["detail"]
