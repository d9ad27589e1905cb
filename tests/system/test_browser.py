"""The upload page in a real headless Chromium, against a real gunicorn."""

import base64
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from helpers import corpus_image, decode, make_image

REPORTS = Path(__file__).resolve().parents[2] / "reports"
REFERENCE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(name="page")
def _page(browser, live_server) -> Page:
    """A fresh desktop-sized tab on the upload page, allowed to use the clipboard."""
    context = browser.new_context(viewport=DESKTOP, base_url=live_server)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto("/")
    yield page
    context.close()


def file_payload(name: str, data: bytes, mime: str) -> dict:
    """A file for the picker, as Playwright takes it."""
    return {"name": name, "mimeType": mime, "buffer": data}


def test_upload_through_the_picker(page):
    """Picked files upload, each progress bar finishes, and each gets a card."""
    page.set_input_files("#files", [
        file_payload("gradient.png", make_image("PNG", size=(300, 200)), "image/png"),
        file_payload("photo.jpg", make_image("JPEG", size=(120, 90)), "image/jpeg"),
    ])
    cards = page.locator(".card[data-ref]")
    expect(cards).to_have_count(2)
    for number in range(2):
        card = cards.nth(number)
        expect(card.locator("progress")).to_have_attribute("value", "100")
        expect(card.locator(".state")).to_have_text(re.compile(r"^Uploaded "))
        expect(card.locator("input.ref")).to_have_value(REFERENCE)
    expect(page.locator("#status")).to_have_text(re.compile(r"uploaded\.$"))
    expect(cards.filter(has_text="300 × 200 px")).to_have_count(1)


def test_conversion_link_answers_the_image(page):
    """Following a card's WEBP link gets the image converted to WebP."""
    page.set_input_files("#files", [file_payload(
        "gradient.png", make_image("PNG", size=(64, 48)), "image/png")])
    link = page.locator(".card[data-ref] .links a", has_text="WEBP")
    with page.expect_navigation() as navigation:
        link.click()
    response = navigation.value
    assert response.status == 200
    assert response.headers["content-type"] == "image/webp"
    image = decode(response.body())
    assert (image.format, image.size) == ("WEBP", (64, 48))


def test_failed_upload_shows_the_servers_message(page):
    """A text file gets a failed card with the server's reason, as an alert."""
    page.set_input_files("#files", [file_payload(
        "notes.txt", b"these are words, not pixels", "text/plain")])
    error = page.locator(".card.failed [role=alert]")
    expect(error).to_contain_text("not an image")
    state = page.locator(".card.failed .state")
    expect(state).to_have_text("notes.txt was not stored.")


def test_copy_button_copies_the_reference(page):
    """The copy button puts the reference on the clipboard and says so."""
    page.set_input_files("#files", [file_payload(
        "a.png", make_image("PNG"), "image/png")])
    ref = page.locator(".card[data-ref]").get_attribute("data-ref")
    button = page.get_by_role("button", name=f"Copy reference {ref}")
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == ref


def test_files_dropped_on_the_page_upload(page):
    """A file dropped on the drop zone uploads like a picked one."""
    encoded = base64.b64encode(make_image("GIF", size=(20, 10))).decode()
    transfer = page.evaluate_handle(
        """(encoded) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.gif", {type: "image/gif"}));
            return transfer;
        }""", encoded)
    page.dispatch_event(".drop", "drop", {"dataTransfer": transfer})
    expect(page.locator(".card[data-ref]")).to_contain_text("20 × 10 px")


def test_keyboard_reaches_the_file_input(page):
    """Tab goes from the site link to the file input, whose label lights up."""
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "files"
    assert page.locator(".drop").evaluate(
        "zone => getComputedStyle(zone).borderColor"
    ) == "rgb(11, 87, 208)"


def test_works_without_javascript(browser, live_server):
    """With JavaScript off the form posts, and the answer is the page of the image."""
    context = browser.new_context(java_script_enabled=False, base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/")
        page.set_input_files("#files", [file_payload(
            "plain.bmp", make_image("BMP", size=(33, 22)), "image/bmp")])
        with page.expect_navigation():
            page.get_by_role("button", name="Upload", exact=True).click()
        assert re.fullmatch(rf"{live_server}/\?ref={REFERENCE.pattern}", page.url)
        expect(page.locator(".card")).to_contain_text("33 × 22 px")
        page.goto("/")
        page.set_input_files("#files", [file_payload("x.txt", b"words", "text/plain")])
        with page.expect_navigation():
            page.get_by_role("button", name="Upload", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("not an image")
    finally:
        context.close()


@pytest.mark.parametrize("viewport, name", [(DESKTOP, "upload-page.png"),
                                            (PHONE, "upload-page-phone.png")])
def test_screenshot_of_results(browser, live_server, viewport, name):
    """Real images uploaded; the page fits the screen; a screenshot goes to reports/."""
    context = browser.new_context(viewport=viewport, base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/")
        page.set_input_files("#files", [
            file_payload(name, corpus_image(name), mime) for name, mime in (
                ("sugarshack.mpo", "image/jpeg"), ("pil123p.png", "image/png"),
                ("iss634.apng", "image/apng"),
            )
        ])
        expect(page.locator(".card[data-ref]")).to_have_count(3)
        for image in page.locator(".card img").all():
            expect(image).to_have_js_property("complete", True)
        assert page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"
        )
        REPORTS.mkdir(exist_ok=True)
        page.screenshot(path=REPORTS / name, full_page=True)
    finally:
        context.close()
    assert decode((REPORTS / name).read_bytes()).width == viewport["width"]


def test_every_control_is_labelled_and_every_image_described(page):
    """Inputs have labels, buttons and links have names, images have alt text."""
    page.set_input_files("#files", [file_payload(
        "a.png", make_image("PNG"), "image/png")])
    expect(page.locator(".card[data-ref]")).to_have_count(1)
    unnamed = page.evaluate("""() => [
        ...[...document.querySelectorAll("input")].filter((e) => !e.labels.length),
        ...[...document.querySelectorAll("button, a")].filter(
            (e) => !(e.getAttribute("aria-label") || e.textContent.trim()
                     || e.querySelector("img[alt]"))),
        ...[...document.querySelectorAll("main img")].filter((e) => !e.alt),
    ].map((e) => e.outerHTML)""")
    assert unnamed == []


# The text of the page and the colour behind it, for every kind of text it shows.
COLOURS = """() => [...document.querySelectorAll(
    "h1, .brand, .tagline, .drop-title, .pick, .drop-hint, .state, .reference label,"
    + " .ref, .copy, .info dt, .info dd, .links a, .kind")].map((element) => {
    let behind = element;
    while (getComputedStyle(behind).backgroundColor.endsWith(", 0)")) {
        behind = behind.parentElement;
    }
    return [element.className || element.tagName, getComputedStyle(element).color,
            getComputedStyle(behind).backgroundColor];
})"""


def luminance(css: str) -> float:
    """The WCAG relative luminance of an ``rgb(r, g, b)`` colour."""
    channels = [int(value) / 255 for value in re.findall(r"\d+", css)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
              for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa(browser, live_server, scheme):
    """Every kind of text has a contrast ratio of at least 4.5:1, in both themes."""
    context = browser.new_context(color_scheme=scheme, base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/")
        page.set_input_files("#files", [file_payload(
            "a.png", make_image("PNG"), "image/png")])
        expect(page.locator(".card[data-ref]")).to_have_count(1)
        samples = page.evaluate(COLOURS)
    finally:
        context.close()
    low = []
    for name, text, behind in samples:
        light, dark = sorted([luminance(text), luminance(behind)], reverse=True)
        if (light + 0.05) / (dark + 0.05) < 4.5:
            low.append((name, text, behind))
    assert len(samples) > 10
    assert low == []
