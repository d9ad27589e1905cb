"""``POST /process.<ext>``: convert the image in the request and keep nothing."""

from flask import Blueprint, Response, request

from ..exceptions import InvalidUpload
from ..options import parse as parse_options
from . import get_service
from .api import SANDBOX
from .auth import writers_only
from .bodies import spooled

bp = Blueprint("process", __name__)


@bp.route("/process.<extension>", methods=["POST"])
@writers_only
def process(extension: str) -> Response:
    """The body (raw, or the multipart file ``data``) converted to ``extension``
    after the query's options; nothing is stored or cached.

    :raises InvalidUpload: the body is empty.
    :raises InvalidOptions: a query parameter is unknown or has a bad value.
    :raises ServiceError: what ``ImageService.process`` raises.
    """
    options = parse_options(request.args.to_dict(flat=False))
    file = request.files.get("data")
    with spooled(file.stream if file else request.stream) as body:
        if not body.read(1):
            raise InvalidUpload("the body is empty: send the image, raw or as 'data'")
        body.seek(0)
        data, target = get_service().process(body, extension, options)
    response = Response(data, mimetype=target.mime)
    # Made for this request alone: no cache may keep or share it.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = SANDBOX
    return response
