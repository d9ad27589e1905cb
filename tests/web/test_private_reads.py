"""PROGIMAGE_PRIVATE_READS=1 on every route of the app's URL map, not a hand-kept
list: a new route fails here until it is classified."""

import pytest

from helpers import make_image, upload
from progimage import create_app
from progimage.config import Settings

KEY = {"Authorization": "Bearer alpha"}
# The routes that answer without a key when reads are private, and why. Nothing
# here reveals an image or its metadata.
OPEN = {
    "/healthz": "probe",
    "/readyz": "probe",
    "/openapi.json": "the API's contract, the same for everyone",
    "/metrics": "counts by route and format, never a reference (README: stays open)",
    "/static/<path:filename>": "the upload page's script and style",
}
# Open only without ``?ref=``: with it, the page shows cards (format, size, SHA-256).
OPEN_WITHOUT_REFS = {"/": "the bare upload form"}
# What fills each URL variable: the reference of a stored image, or a static file.
ARGUMENTS = {
    "name": "{ref}", "ref": "{ref}", "filename": "upload.js", "extension": "png",
}


@pytest.fixture(name="private_app")
def _private_app(tmp_path):
    """An app with the key 'alpha' and private reads."""
    app = create_app(Settings(
        storage=str(tmp_path / "data"), api_keys="alpha", private_reads=True,
    ))
    yield app
    app.extensions["progimage"].close()


def requests_for(app, ref: str) -> list[tuple[str, str, str]]:
    """(rule, method, URL) for every rule and method of the URL map, each URL
    built with ``ref``, bare and asking for ``ref`` in its query string too (as
    the upload page does); deletes last, so that the image is there for the rest."""
    found = []
    for rule in app.url_map.iter_rules():
        values = {arg: ARGUMENTS[arg].format(ref=ref) for arg in rule.arguments}
        with app.test_request_context():
            path = app.url_for(rule.endpoint, **values)
        for method in rule.methods - {"OPTIONS"}:
            found += [(rule.rule, method, url) for url in (path, f"{path}?ref={ref}")]
    return sorted(found, key=lambda found: found[1] == "DELETE")


def expected(rule: str, url: str) -> int:
    """What ``url`` of ``rule`` answers without a key: 200 if open, else 401."""
    is_open = rule in OPEN or (rule in OPEN_WITHOUT_REFS and "?" not in url)
    return 200 if is_open else 401


def answer(client, method: str, url: str, **headers: str) -> tuple[int, bytes]:
    """The status and body of one request."""
    with client.open(url, method=method, headers=headers) as response:
        return response.status_code, response.data


def test_every_route_is_private_or_on_the_open_list(private_app):
    """Without a key, every route that could reveal an image answers 401 (even
    whether the image exists stays hidden); the open list answers 200; with the
    key, no route refuses."""
    client = private_app.test_client()
    ref = upload(client, make_image("PNG"), headers=KEY).get_data(as_text=True)
    sha256 = client.get(f"/storage/{ref}/info", headers=KEY).get_json()["sha256"]
    wrong = []
    for rule, method, url in requests_for(private_app, ref):
        status, body = answer(client, method, url)
        if status != expected(rule, url) or sha256.encode() in body:
            wrong.append((method, url, status))
        status, _ = answer(client, method, url, **KEY)
        if status in {401, 403} or status >= 500:
            wrong.append((method, url, "with the key", status))
    assert wrong == []


def test_open_list_names_only_real_routes(private_app):
    """Every route on the open list is in the URL map (no stale entries)."""
    rules = {rule.rule for rule in private_app.url_map.iter_rules()}
    assert set(OPEN) | set(OPEN_WITHOUT_REFS) <= rules


@pytest.mark.parametrize("path", ["/", "/cards/{ref}", "/?ref={ref}"])
def test_upload_page_stays_open_but_its_cards_do_not(private_app, path):
    """The bare upload page needs no key; a card (format, size, SHA-256) does."""
    client = private_app.test_client()
    ref = upload(client, make_image("PNG"), headers=KEY).get_data(as_text=True)
    response = client.get(path.format(ref=ref))
    assert response.status_code == (200 if path == "/" else 401)
    assert ref not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/storage/{ref}", "/cards/{ref}", "/metrics"])
def test_options_reveal_nothing(private_app, path):
    """OPTIONS answers only the allowed methods, for any reference."""
    client = private_app.test_client()
    ref = upload(client, make_image("PNG"), headers=KEY).get_data(as_text=True)
    response = client.options(path.format(ref=ref))
    assert response.status_code == 200
    assert response.data == b""
