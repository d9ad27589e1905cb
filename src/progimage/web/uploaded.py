"""The answer to one upload: its reference as plain text, or with ready-made links.

A client asking for JSON (``Accept: application/json``) or for the stored resource
(``Prefer: return=representation``, RFC 7240) gets ``{"ref", "location", "urls"}``:
``urls`` holds, for each configured preset, the absolute URL of ``<ref>.auto``
with that preset, signed with the first signing key when there is one, so that an
uploader can put them in a page as they are.
"""

from flask import Response, jsonify, request

from ..signing import signed_query
from . import ANSWER_TYPES, get_service

REPRESENTATION = "return=representation"


def stored(ref: str) -> Response:
    """The answer to a stored upload of ``ref``, with its location."""
    if _wants_representation():
        response = jsonify(ref=ref, location=f"/storage/{ref}", urls=preset_urls(ref))
        if REPRESENTATION in _preferences():
            response.headers["Preference-Applied"] = REPRESENTATION
    else:
        response = Response(ref, mimetype="text/plain")
    response.headers["Location"] = f"/storage/{ref}"
    response.vary.update(("Accept", "Prefer"))
    return response


def preset_urls(ref: str) -> dict[str, str]:
    """Preset name -> the absolute URL of ``<ref>.auto?preset=<name>``, signed
    when the server has a signing key (it verifies it whatever the settings)."""
    settings = get_service().settings
    path = f"/storage/{ref}.auto"
    base = request.host_url.rstrip("/") + path
    keys = settings.signature_keys
    urls = {}
    for name in sorted(settings.preset_table):
        options = {"preset": name}
        query = (signed_query(keys[0], path, options) if keys
                 else f"preset={name}")
        urls[name] = f"{base}?{query}"
    return urls


def _wants_representation() -> bool:
    best = request.accept_mimetypes.best_match(ANSWER_TYPES)
    return best == "application/json" or REPRESENTATION in _preferences()


def _preferences() -> set[str]:
    """The preferences of the ``Prefer`` headers, without their parameters."""
    given = ",".join(request.headers.getlist("Prefer"))
    return {item.split(";")[0].strip().lower() for item in given.split(",")}
