"""The upload page without JavaScript: the form, its answers, the cards, errors."""

import copy
import dataclasses
import io
import re
import uuid

import pytest

from helpers import app_client, decode, make_image, upload
from progimage.options import PARAMETERS
from progimage.web import playground
from progimage.web.pages import format_bytes

# What a browser sends when it follows a link or posts a form.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def post_form(client, files: list[tuple[bytes, str]]):
    """Post files the way a browser posts the upload form (no JavaScript)."""
    return client.post(
        "/storage/", data={"data": [(io.BytesIO(data), name) for data, name in files]},
        content_type="multipart/form-data", headers={"Accept": BROWSER},
    )


def refs_in(location: str) -> list[str]:
    """The references in a ``/?ref=...`` address."""
    return re.findall(r"ref=([0-9a-f-]{36})", location)


def test_page_has_an_accessible_form_posting_to_storage(client):
    """GET / is a page with a labelled multi-file input posting to /storage/."""
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert ('<form id="upload" class="upload" action="/storage/" method="post"'
            in page)
    assert 'enctype="multipart/form-data"' in page
    assert '<label class="drop" for="files">' in page
    assert re.search(r'<input id="files"[^>]* name="data" multiple required', page)
    assert '<html lang="en">' in page
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("name", ["page.css", "upload.js", "playground.js"])
def test_static_files_are_served(client, name):
    """The page's style and script are served from /static/."""
    with client.get(f"/static/{name}") as response:
        assert response.status_code == 200
        assert len(response.data) > 1000


@pytest.mark.parametrize("count", [1, 3])
def test_form_post_goes_on_to_the_page_of_the_images(client, count):
    """A browser's post answers See Other to the page listing the stored images."""
    files = [(make_image("PNG", size=(30 + n, 20)), f"{n}.png") for n in range(count)]
    response = post_form(client, files)
    assert response.status_code == 303
    refs = refs_in(response.headers["Location"])
    assert len(refs) == count
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    for number, ref in enumerate(refs):
        assert f'value="{ref}"' in page
        assert f"{30 + number} × 20 px" in page


@pytest.mark.parametrize("accept", [None, "*/*", "text/plain", "text/html;q=0.5, */*"])
def test_api_clients_still_get_the_bare_reference(client, accept):
    """curl and scripts keep getting the reference as text/plain."""
    response = client.post(
        "/storage/", data={"data": (io.BytesIO(make_image("PNG")), "x.png")},
        content_type="multipart/form-data",
        headers={"Accept": accept} if accept else {},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert uuid.UUID(response.get_data(as_text=True)).version == 4


def test_card_shows_info_and_links(client):
    """The card has the reference, the info, the original and conversion links."""
    ref = upload(client, make_image("GIF", size=(12, 10))).get_data(as_text=True)
    response = client.get(f"/cards/{ref}")
    assert response.status_code == 200
    card = response.get_data(as_text=True)
    assert card.lstrip().startswith(f'<li class="card" data-ref="{ref}">')
    assert "<dd>GIF</dd>" in card
    assert "12 × 10 px" in card
    assert f'href="/storage/{ref}"' in card
    for ext in ("jpg", "png", "webp", "gif", "tif"):
        assert f'href="/storage/{ref}.{ext}"' in card
    thumbnail = f"/storage/{ref}.webp?w=256&amp;h=256&amp;fit=inside"
    assert f'href="{thumbnail}">Thumbnail' in card
    assert f'href="/storage/{ref}/info"' in card
    assert f'data-ref="{ref}"' in card


def test_card_of_a_missing_image_is_404(client):
    """The fragment of an unknown image is a 404 problem."""
    response = client.get(f"/cards/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "no image is stored" in response.get_json()["detail"]


@pytest.mark.parametrize("ref, message", [
    ("nonsense", "not an image reference"),
    ("0d4f06b6-5c41-4a5e-9d39-2f4bb0b0e0a1", "no image is stored under"),
])
def test_page_explains_unknown_references(client, ref, message):
    """A reference that names no image is explained where its card would be."""
    response = client.get("/", query_string={"ref": ref})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_failed_form_post_is_an_html_page_with_the_reason(client):
    """A text file posted from the form answers a 400 page saying why."""
    response = post_form(client, [(b"just some words", "notes.txt")])
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<h1>Bad Request</h1>" in page
    assert "not an image" in page
    assert 'href="/"' in page


@pytest.mark.parametrize("accept, mimetype", [
    (BROWSER, "text/html"), (None, "application/problem+json"),
    ("application/json", "application/problem+json"),
])
def test_errors_follow_the_accept_header(client, accept, mimetype):
    """Browsers get error pages, API clients problem JSON."""
    response = client.get(f"/storage/{uuid.uuid4()}",
                          headers={"Accept": accept} if accept else {})
    assert response.status_code == 404
    assert response.mimetype == mimetype


@pytest.mark.parametrize("size, text", [
    (0, "0 bytes"), (999, "999 bytes"), (1000, "1 kB"), (1536, "1.54 kB"),
    (999_999, "1 MB"), (2_400_000, "2.4 MB"), (5 * 10**9, "5 GB"),
])
def test_sizes_read_well(size, text):
    """Byte counts are shown with three significant digits and a unit."""
    assert format_bytes(size) == text


def test_thumbnail_link_answers_a_small_webp(client):
    """The card's thumbnail link answers a WebP that fits in 256 px, aspect kept."""
    ref = upload(client, make_image("PNG", size=(600, 300))).get_data(as_text=True)
    card = client.get(f"/cards/{ref}").get_data(as_text=True)
    link = re.search(r'href="([^"]+)">Thumbnail', card).group(1).replace("&amp;", "&")
    with client.get(link) as response:
        image = decode(response.data)
    assert (image.format, image.size) == ("WEBP", (256, 128))


@pytest.fixture(name="lookups")
def _lookups(app, monkeypatch) -> list[str]:
    """The references the app's storage is asked for, in order."""
    storage = app.extensions["progimage"].storage
    asked: list[str] = []
    record = storage.record

    def counting(ref: str):
        asked.append(ref)
        return record(ref)

    monkeypatch.setattr(storage, "record", counting)
    return asked


def test_page_looks_up_20_images_and_links_to_the_rest(client, lookups):
    """98 references make 20 lookups; a link carries the other 78, in order, to the
    next page, which looks up the next 20."""
    refs = [str(uuid.uuid4()) for _ in range(98)]
    response = client.get("/", query_string={"ref": refs})
    assert response.status_code == 200
    assert lookups == refs[:20]
    page = response.get_data(as_text=True)
    assert page.count("no image is stored under") == 20
    link = re.search(r'<p class="more"><a href="([^"]+)">78\s+more images</a>', page)
    assert refs_in(link.group(1)) == refs[20:]
    lookups.clear()
    client.get(link.group(1).replace("&amp;", "&"))
    assert lookups == refs[20:40]


def test_page_looks_up_a_repeated_reference_once(client, lookups):
    """The same reference 98 times is one lookup and one card."""
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    page = client.get("/", query_string={"ref": [ref] * 98}).get_data(as_text=True)
    assert lookups == [ref]
    assert page.count(f'<li class="card" data-ref="{ref}">') == 1
    assert 'class="more"' not in page


@pytest.mark.parametrize("text", [
    "Your account is locked: call +1 555 0100",
    "<b>x</b>" + "A" * 5000,
    "0D4F06B6-5C41-4A5E-9D39-2F4BB0B0E0A1",
])
def test_page_never_echoes_what_is_not_a_reference(client, lookups, text):
    """Text that is not a reference is named as such, not repeated, and not looked up;
    nor does it reach the link to the next page."""
    filler = [str(uuid.uuid4()) for _ in range(20)]
    response = client.get("/", query_string={"ref": [text, *filler, text + "!"]})
    page = response.get_data(as_text=True)
    assert "not an image reference" in page
    for fragment in ("account", "AAAAAAAAAA", "&lt;b&gt;", "0D4F06B6"):
        assert fragment not in page
    assert lookups == filler[:19]
    link = re.search(r'<p class="more"><a href="([^"]+)">1\s+more image</a>', page)
    assert refs_in(link.group(1)) == filler[19:]


def test_card_of_a_non_reference_does_not_echo_it(client):
    """The card fragment's 404 names no text of the request."""
    response = client.get("/cards/call-555-0100-now")
    assert response.status_code == 404
    assert response.get_json()["detail"] == "not an image reference"


def test_builder_has_a_labelled_control_for_every_option(client):
    """The URL builder offers every query option of the table, and not the
    signature's parameters, each with a label and a hint."""
    page = client.get("/").get_data(as_text=True)
    for name in [*PARAMETERS, "preset"]:
        assert re.search(rf'<label for="pg-{name}">', page), name
        assert re.search(rf'id="pg-{name}" name="{name}"[^>]*'
                         rf'aria-describedby="pg-{name}-hint"', page), name
    assert 'id="pg-sig"' not in page and 'id="pg-exp"' not in page
    assert re.search(r'id="pg-h" name="h" type="number"[^>]*step="1" min="1" '
                     r'max="16383"', page)
    assert re.search(r'id="pg-gamma" name="gamma" type="number"[^>]*step="0.01" '
                     r'min="0" max="10"', page)
    assert '<option value="auto">auto</option>' in page
    assert page.count("<legend") == 4


def test_an_option_added_to_the_document_appears_in_the_builder(client, monkeypatch):
    """The builder follows the OpenAPI document: a new enum option is a select."""
    document = copy.deepcopy(playground._document())
    document["paths"]["/storage/{name}"]["get"]["parameters"].append({
        "name": "tint", "in": "query", "description": "A `tint`.",
        "schema": {"type": "string", "enum": ["red", "blue"]},
    })
    monkeypatch.setattr(playground, "_document", lambda: document)
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<label for="pg-tint">Tint'
                     r'</label>\s*<select id="pg-tint" name="tint"', page)
    assert ('<option value="">default</option><option value="red">red</option>'
            '<option value="blue">blue</option>') in page
    assert '<small id="pg-tint-hint" class="hint">A tint.</small>' in page


def test_builder_offers_the_configured_presets(settings):
    """With PROGIMAGE_PRESETS set, the preset control is a choice of their names."""
    presets = "thumb=w:32,h:32,fit:cover;hero=w:1600,q:70"
    with app_client(dataclasses.replace(settings, presets=presets)) as client:
        page = client.get("/").get_data(as_text=True)
    assert re.search(r'<select id="pg-preset" name="preset"[^>]*>\s*'
                     r'<option value="">none</option><option value="hero">hero</option>'
                     r'<option value="thumb">thumb</option>\s*</select>', page)
