"""``PUT /storage/<ref>/focus``: the point every later ``fit=cover`` cut keeps."""

import json

from flask import Blueprint, Response, request

from ..exceptions import InvalidOptions
from ..options import parse_focus
from ..references import check_reference
from . import get_service
from .auth import writers_only

bp = Blueprint("focus", __name__)

# ``x,y`` or a small JSON object: anything longer is not a focus point.
MAX_BODY = 200


@bp.route("/storage/<ref>/focus", methods=["PUT"])
@writers_only
def set_focus(ref: str) -> Response:
    """Store the image's focus point (body ``x,y`` or JSON ``{"x": .., "y": ..}``,
    fractions of width and height); No Content once stored.

    :raises ImageNotFound: ``ref`` is not a reference, or nothing is stored there.
    :raises InvalidOptions: the body is not a focus point.
    """
    check_reference(ref)
    get_service().set_focus(ref, parse_focus(_focus_text()))
    return Response(status=204)


def _focus_text() -> str:
    """The body as ``x,y`` text, from either form.

    :raises InvalidOptions: the body is too long, or JSON without numbers x and y.
    """
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise InvalidOptions(f"focus: the body must be x,y (at most {MAX_BODY} bytes)")
    if not request.is_json:
        return body.decode("utf-8", "replace")
    point = _json(body)
    return f"{point['x']!r},{point['y']!r}"


def _json(body: bytes) -> dict:
    """:raises InvalidOptions: not an object with numbers ``x`` and ``y``."""
    try:
        point = json.loads(body)
    except ValueError:
        point = None
    if not (
        isinstance(point, dict)
        and all(type(point.get(axis)) in (int, float) for axis in ("x", "y"))
    ):
        raise InvalidOptions('focus: a JSON body must be {"x": 0.3, "y": 0.4}')
    return point
