"""Client hints: ``w=auto`` and ``dpr=auto`` take their values from the headers
``Sec-CH-Width`` and ``Sec-CH-DPR`` that Chromium sends once a page asks for them
(``Accept-CH``); the answer then varies on those headers."""

import re
from collections.abc import Callable, Mapping

from flask import Response, after_this_request, request

from ..options import MAX_DPR, MAX_SIDE

AUTO = "auto"
# Query parameter -> the request header that gives its value.
HINTS = {"w": "Sec-CH-Width", "dpr": "Sec-CH-DPR"}
NUMBER = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")
#: What pages and images advertise, so that Chromium sends the hints.
ACCEPT_CH = ", ".join(HINTS.values())


def advertise(response: Response) -> Response:
    """``response`` asking the browser for the hints on its next requests."""
    response.headers["Accept-CH"] = ACCEPT_CH
    return response


def apply_hints(
    query: dict[str, list[str]],
    allowed: Mapping[str, tuple[float, ...]] | None = None,
    widest: Callable[[], int] | None = None,
) -> dict[str, list[str]]:
    """``query`` with each ``auto`` hint replaced by its header's value, or left out
    when the header is missing or malformed (no resize, DPR 1); the response is
    marked to vary on the headers used.

    A hinted width is at most ``widest()`` (the original's width: a larger screen
    gets the original's pixels, not an enlargement); a hinted value with a list in
    ``allowed`` becomes the smallest allowed value that covers it, within that
    bound (the largest one within it when none covers it), never a refusal.
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
            top = _top(name, widest)
            number = _clamped(name, value, top)
            if allowed and allowed.get(name):
                number = _allowed(number, allowed[name], top)
            hinted[name] = [f"{number:g}"]
    if "w" in used and "w" in hinted:
        hinted.pop("dpr", None)
    headers = [HINTS[name] for name in used]

    @after_this_request
    def _vary(response: Response) -> Response:
        for header in headers:
            response.vary.add(header)
        return response

    return hinted


def _top(name: str, widest: Callable[[], int] | None) -> float:
    """The largest value the hint for ``name`` may give."""
    if name == "w":
        return min(MAX_SIDE, widest()) if widest else MAX_SIDE
    return MAX_DPR


def _clamped(name: str, value: str, top: float) -> float:
    """The header's value within the parameter's range, up to ``top``: a huge screen
    gets the largest image, never an error."""
    if name == "w":
        return min(max(1, round(float(value))), top)
    return min(max(1.0, float(value)), top)


def _allowed(number: float, values: tuple[float, ...], top: float) -> float:
    """The smallest of ``values`` at least ``number`` (sharp on the screen) if it is
    within ``top``, else the largest within ``top``, else the smallest of all."""
    covering = [value for value in values if number <= value <= top]
    if covering:
        return min(covering)
    within = [value for value in values if value <= top]
    return max(within) if within else min(values)
