"""The URL builder ("Try options") of the upload page in a real headless Chromium."""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from helpers import API_KEY, decode, make_image
from test_browser import DESKTOP, REPORTS, file_payload

DOCS = Path(__file__).resolve().parents[2] / "docs"
# Set to 1 to copy the playground's screenshot into docs/ (``make screenshots``).
UPDATE_DOCS = os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1"
CHROMIUM_IMAGES = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"


def open_page(browser, server: str) -> Page:
    """A desktop tab on the upload page of ``server``, allowed the clipboard."""
    context = browser.new_context(viewport=DESKTOP, base_url=server)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto("/")
    return page


@pytest.fixture(name="page")
def _page(browser, live_server) -> Page:
    page = open_page(browser, live_server)
    yield page
    page.context.close()


def upload_one(page: Page, size=(300, 200)) -> str:
    """Upload a PNG through the picker; its reference, once the builder shows it."""
    page.set_input_files("#files", [file_payload(
        "gradient.png", make_image("PNG", size=size), "image/png")])
    ref = page.locator(".card[data-ref]").get_attribute("data-ref")
    expect(page.locator("#playground")).to_be_visible()
    expect(page.locator("#playground-ref")).to_have_text(ref)
    return ref


def shown(page: Page, url: str) -> dict:
    """Wait until the builder has shown ``url``; what its preview decoded."""
    expect(page.locator("#pg-url")).to_have_value(url)
    expect(page.locator("#pg-result")).to_have_attribute("data-state", "ready")
    return page.locator("#pg-preview").evaluate("""(image) => ({
        width: image.naturalWidth, height: image.naturalHeight,
        type: image.dataset.type, bytes: Number(image.dataset.bytes)})""")


def fetched(page: Page, url: str, **headers):
    """The image at ``url`` as the test fetches it itself, and its content type."""
    response = page.request.get(url, headers=headers)
    assert response.status == 200
    body = response.body()
    return decode(body), response.headers["content-type"], len(body)


def test_builder_shows_the_url_and_its_image(page, live_server):
    """Width, height and format give the URL shown, and a preview of that URL's
    image: its decoded size and type, its byte size and its load time. Nothing
    breaks the page's Content-Security-Policy."""
    page.add_init_script("""window.violations = [];
        document.addEventListener("securitypolicyviolation", (event) => {
            window.violations.push(event.violatedDirective + " " + event.blockedURI);
        });""")
    page.reload()
    ref = upload_one(page)
    page.get_by_label("Format").select_option("webp")
    page.get_by_label("Width").fill("120")
    page.get_by_label("Height").fill("90")
    page.get_by_label("Quality").fill("70")
    url = f"{live_server}/storage/{ref}.webp?w=120&h=90&q=70"
    preview = shown(page, url)
    image, mime, size = fetched(page, url)
    assert (image.format, image.size, mime) == ("WEBP", (120, 80), "image/webp")
    assert preview == {"width": 120, "height": 80, "type": "image/webp", "bytes": size}
    expect(page.locator("#pg-summary")).to_have_text(
        re.compile(rf"^image/webp, 120 × 80 px, {size} bytes, \d+ ms$"))
    assert page.evaluate("window.violations") == []


def test_auto_format_previews_what_an_img_gets(page, live_server):
    """format auto: the .auto URL, previewed in the type an <img> would get."""
    ref = upload_one(page)
    page.get_by_label("Format").select_option("auto")
    page.get_by_label("Width").fill("50")
    url = f"{live_server}/storage/{ref}.auto?w=50"
    preview = shown(page, url)
    image, mime, _ = fetched(page, url, Accept=CHROMIUM_IMAGES)
    assert (preview["type"], preview["width"], preview["height"]) == (mime, 50, 33)
    assert (mime, image.size) == ("image/avif", (50, 33))


def test_every_option_of_the_document_has_a_control(page, live_server):
    """More options: a rotation and a flip from the table-driven controls."""
    ref = upload_one(page, size=(40, 20))
    page.get_by_label("Format").select_option("png")
    page.locator("details.more-options summary").click()
    page.get_by_label("Rotate").fill("90")
    page.get_by_label("Flip").select_option("h")
    preview = shown(page, f"{live_server}/storage/{ref}.png?rotate=90&flip=h")
    assert (preview["width"], preview["height"]) == (20, 40)
    assert preview["type"] == "image/png"


def test_a_bad_option_shows_the_servers_reason(page):
    """A crop outside the image: the server's message, as an alert; no preview."""
    upload_one(page, size=(40, 20))
    page.locator("details.more-options summary").click()
    page.get_by_label("Crop").fill("0,0,500,500")
    page.get_by_label("Crop").press("Enter")
    expect(page.locator("#pg-result")).to_have_attribute("data-state", "failed")
    expect(page.get_by_role("alert").filter(has_text="crop")).to_be_visible()


def test_snippet_is_an_img_with_srcset_and_copies(page, live_server):
    """The HTML snippet has the URL, a 2x srcset and the decoded size; Copy puts it
    on the clipboard."""
    ref = upload_one(page)
    page.get_by_label("Format").select_option("jpg")
    page.get_by_label("Width").fill("100")
    url = f"{live_server}/storage/{ref}.jpg?w=100"
    shown(page, url)
    snippet = page.locator("#pg-snippet").input_value()
    assert snippet == (f'<img src="{url}" srcset="{url} 1x, {url}&amp;dpr=2 2x" '
                       'width="100" height="67" alt="">')
    page.get_by_role("button", name="Copy the img element").click()
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    expect(page.locator("#status")).to_have_text("HTML copied.")
    image, _, _ = fetched(page, f"{url}&dpr=2")
    assert image.size == (200, 133)


def test_keyboard_only(page, live_server):
    """Tab to a card's Try options, Enter, type a format and sizes: the preview
    follows, and the result is announced in a live region."""
    ref = upload_one(page)
    page.locator("#api-key").focus()
    for _ in range(40):
        if page.evaluate("document.activeElement.className") == "try":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "pg-format"
    page.keyboard.type("png")
    page.keyboard.press("Tab")
    page.keyboard.type("64")
    page.keyboard.press("Tab")
    page.keyboard.type("48")
    page.keyboard.press("Tab")
    preview = shown(page, f"{live_server}/storage/{ref}.png?w=64&h=48")
    assert (preview["width"], preview["height"]) == (64, 43)
    assert page.locator("#pg-summary").get_attribute("aria-live") == "polite"


def test_builder_is_labelled_in_fieldsets(page):
    """Every control has a label and a hint, inside a fieldset with a legend."""
    upload_one(page)
    problems = page.evaluate("""() => [...document.querySelectorAll(
            "#playground input, #playground select, #playground textarea")]
        .filter((e) => !e.labels.length || !(e.closest("fieldset, .result")))
        .map((e) => e.id).concat([...document.querySelectorAll("#builder fieldset")]
            .filter((f) => !f.querySelector("legend")).map(() => "fieldset"))""")
    assert problems == []
    assert page.locator("#builder select, #builder input").count() > 25


def test_keyed_service(browser, keyed_server):
    """With the key typed in, upload, cards and previews work on a service with
    private reads, and no request carries the key in its URL."""
    page = open_page(browser, keyed_server)
    requests = []
    page.on("request", lambda request: requests.append(request))
    try:
        page.locator("#api-key").fill(API_KEY)
        ref = upload_one(page, size=(80, 60))
        page.get_by_label("Format").select_option("webp")
        page.get_by_label("Width").fill("40")
        url = f"{keyed_server}/storage/{ref}.webp?w=40"
        preview = shown(page, url)
        assert (preview["width"], preview["height"]) == (40, 30)
        assert page.request.get(url).status == 401
        image, _, size = fetched(page, url, Authorization=f"Bearer {API_KEY}")
        assert (image.size, size) == ((40, 30), preview["bytes"])
        preview_requests = [r for r in requests if r.url == url]
        assert preview_requests
        assert all(r.headers["authorization"] == f"Bearer {API_KEY}"
                   for r in preview_requests)
        assert not [r.url for r in requests if API_KEY in r.url]
        expect(page.locator(".card .preview img")).to_have_attribute(
            "src", re.compile("^blob:"))
    finally:
        page.context.close()


def test_screenshot_of_the_playground(page, live_server):
    """A screenshot of the builder after an upload, in reports/ (and in docs/ with
    UPDATE_DOCS_SCREENSHOTS=1)."""
    page.set_input_files("#files", [file_payload(
        "photo.png", make_image("PNG", size=(640, 427)), "image/png")])
    ref = page.locator(".card[data-ref]").get_attribute("data-ref")
    page.get_by_label("Format").select_option("auto")
    page.get_by_label("Width").fill("320")
    page.get_by_label("Fit").select_option("cover")
    page.get_by_label("Height").fill("200")
    shown(page, f"{live_server}/storage/{ref}.auto?w=320&h=200&fit=cover")
    REPORTS.mkdir(exist_ok=True)
    target = REPORTS / "playground.png"
    page.locator("#playground").screenshot(path=target)
    assert decode(target.read_bytes()).width > 600
    if UPDATE_DOCS:
        shutil.copyfile(target, DOCS / "playground.png")
