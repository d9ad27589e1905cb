"""``POST /process.<ext>``: convert the image in the request and keep nothing."""

import shutil
import tempfile

from flask import Blueprint, Response, request

from ..exceptions import InvalidUpload
from ..options import parse as parse_options
from . import get_service, ratelimits
from .api import SANDBOX
from .auth import writers_only

bp = Blueprint("process", __name__)

#: Past this, a raw body goes to a temporary file rather than memory.
SPOOL_BYTES = 4 * 1024 * 1024


@bp.route("/process.<extension>", methods=["POST"])
@writers_only
def process(extension: str) -> Response:
    """The body (raw, or the multipart file ``data``) converted to ``extension``
    after the query's options; nothing is stored or cached.

    :raises InvalidUpload: the body is empty.
    :raises InvalidOptions: a query parameter is unknown or has a bad value.
    :raises ServiceError: what ``ImageService.process`` raises.
    :raises RateLimited: the client has started as many conversions as it may.
    """
    ratelimits.count("conversions")
    options = parse_options(request.args.to_dict(flat=False))
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
        file = request.files.get("data")
        # Within MAX_CONTENT_LENGTH: werkzeug stops reading at the upload limit.
        shutil.copyfileobj(file.stream if file else request.stream, body)
        if body.tell() == 0:
            raise InvalidUpload("the body is empty: send the image, raw or as 'data'")
        body.seek(0)
        data, target = get_service().process(body, extension, options)
    response = Response(data, mimetype=target.mime)
    # Made for this request alone: no cache may keep or share it.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = SANDBOX
    return response
