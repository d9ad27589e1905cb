"""The upload page: a form that works without JavaScript, and a card per image."""

from dataclasses import dataclass

from flask import Blueprint, Response, render_template, request

from ..exceptions import ImageNotFound
from ..references import is_reference
from ..storage import ImageRecord
from . import get_service, playground
from .auth import check_reader, readers_only

bp = Blueprint("pages", __name__)

# Offered under each image when this Pillow can write them, in this order.
COMMON_EXTENSIONS = ("jpg", "png", "webp", "avif", "gif", "tif")
# Cards on one page: each is a storage lookup, and an anonymous GET of / must stay
# cheap. A batch of more images is shown page by page.
CARDS_PER_PAGE = 20
# The thumbnail link and the preview: a WebP within a box, never enlarged.
THUMBNAIL = {"w": 256, "h": 256, "fit": "inside"}
# The page loads only its own script, style and images (and local file previews).
POLICY = (
    "default-src 'self'; img-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Card:
    """One stored image as the page shows it, or why it cannot be shown."""

    ref: str
    record: ImageRecord | None = None
    problem: str = ""


@bp.get("/")
def home() -> str:
    """The upload form, then a card for each of the first ``CARDS_PER_PAGE``
    distinct ``ref`` values in the query string, and a link to the next ones.

    :raises MissingCredentials: reads are private, there are cards and no key.
    :raises WrongCredentials: the key is not one of the configured keys.
    """
    refs = list(dict.fromkeys(request.args.getlist("ref")))
    if refs:
        # Cards show an image's format, size and digest: a read like any other.
        check_reader()
    cards = [_card(ref) for ref in refs[:CARDS_PER_PAGE]]
    # The next page carries only references: nothing else is ever echoed.
    more = [ref for ref in refs[CARDS_PER_PAGE:] if is_reference(ref)]
    return render_template(
        "index.html", cards=cards, more=more, extensions=_extensions(),
        thumbnail=THUMBNAIL,
        groups=playground.groups(sorted(get_service().settings.preset_table)),
    )


@bp.get("/cards/<ref>")
@readers_only
def card(ref: str) -> str:
    """One image's card as an HTML fragment, which the page's script inserts.

    :raises ImageNotFound: nothing is stored under ``ref``.
    """
    found = _card(ref)
    if found.record is None:
        raise ImageNotFound(found.problem)
    return render_template(
        "card.html", card=found, extensions=_extensions(), thumbnail=THUMBNAIL
    )


@bp.after_request
def _content_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = POLICY
    return response


@bp.app_template_filter("bytes")
def format_bytes(size: int) -> str:
    """A byte count for people: ``2.4 MB``, ``980 kB``, ``12 bytes``."""
    if size < 1000:
        return f"{size} bytes"
    value, unit = float(size), "bytes"
    for bigger in ("kB", "MB", "GB", "TB"):
        if value < 999.5 and unit != "bytes":
            break
        value, unit = value / 1000, bigger
    return f"{value:.3g} {unit}"


def _card(ref: str) -> Card:
    """The card for ``ref``: its record, or a problem when nothing is there."""
    if not is_reference(ref):
        # Not repeated: the page would show any text a link put in it.
        return Card("", problem="not an image reference")
    try:
        return Card(ref, record=get_service().info(ref))
    except ImageNotFound as error:
        return Card(ref, problem=error.detail)


def _extensions() -> list[str]:
    """The common formats this server can write."""
    writable = {fmt.extension for fmt in get_service().formats.writable()}
    return [ext for ext in COMMON_EXTENSIONS if ext in writable]
