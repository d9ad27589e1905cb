"""Client hints: ``w=auto`` and ``dpr=auto`` take their values from the headers
``Sec-CH-Width`` and ``Sec-CH-DPR`` that Chromium sends once a page asks for them
(``Accept-CH``); the answer then varies on those headers."""

import re

from flask import Response, after_this_request, request

from ..options import MAX_DPR, MAX_SIDE

AUTO = "auto"
# Query parameter -> the request header that gives its value.
HINTS = {"w": "Sec-CH-Width", "dpr": "Sec-CH-DPR"}
NUMBER = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")


def apply_hints(query: dict[str, list[str]]) -> dict[str, list[str]]:
    """``query`` with each ``auto`` hint replaced by its header's value, or left out
    when the header is missing or malformed (no resize, DPR 1); the response is
    marked to vary on the headers used.

    ``Sec-CH-Width`` counts device pixels already: with ``w`` taken from it, any
    ``dpr`` is left out, or the width would be scaled twice.
    """
    used = [name for name in HINTS if query.get(name) == [AUTO]]
    if not used:
        return query
    hinted = dict(query)
    for name in used:
        value = request.headers.get(HINTS[name], "").strip()
        del hinted[name]
        if NUMBER.fullmatch(value) and float(value) > 0:
            hinted[name] = [_clamped(name, value)]
    if "w" in used and "w" in hinted:
        hinted.pop("dpr", None)
    headers = [HINTS[name] for name in used]

    @after_this_request
    def _vary(response: Response) -> Response:
        for header in headers:
            response.vary.add(header)
        return response

    return hinted


def _clamped(name: str, value: str) -> str:
    """The header's value within the parameter's range: a huge screen gets the
    largest image, never an error."""
    if name == "w":
        return str(min(max(1, round(float(value))), MAX_SIDE))
    return f"{min(max(1.0, float(value)), MAX_DPR):g}"
