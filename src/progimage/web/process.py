"""``POST /process.<ext>``: convert the image in the request and keep nothing."""

from flask import Blueprint, Response, request

from ..exceptions import InvalidUpload
from ..negotiation import AUTO
from ..service import chosen_quality
from . import get_service, ratelimits
from .api import SANDBOX, requested_options
from .auth import writers_only
from .bodies import spooled

bp = Blueprint("process", __name__)


@bp.route("/process.<extension>", methods=["POST"])
@writers_only
def process(extension: str) -> Response:
    """The body (raw, or the multipart file ``data``) converted to ``extension``
    (``auto``: negotiated from Accept) after the query's options, under the same
    rules as a stored image's read: presets, client hints, allowed sizes and
    signatures. Nothing is stored or cached.

    :raises InvalidUpload: the body is empty.
    :raises InvalidOptions: a query parameter is unknown or has a bad value, the
        preset is unknown or PROGIMAGE_ONLY_PRESETS refuses the parameters, or a
        size is not one of the allowed ones.
    :raises ServiceError: what ``ImageService.process`` raises, and what
        ``signing.checked_query`` raises when signed reads are on.
    :raises RateLimited: the client has started as many conversions as it may.
    """
    ratelimits.count("conversions")
    options = requested_options(f"/process.{extension}", conversion=True)
    file = request.files.get("data")
    with spooled(file.stream if file else request.stream) as body:
        if not body.read(1):
            raise InvalidUpload("the body is empty: send the image, raw or as 'data'")
        body.seek(0)
        data, target = get_service().process(
            body, extension, options, request.accept_mimetypes
        )
    response = Response(data, mimetype=target.mime)
    if extension == AUTO:
        response.vary.add("Accept")
    # Made for this request alone: no cache may keep or share it.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = SANDBOX
    quality = chosen_quality(data)
    if quality is not None:
        response.headers["X-Quality"] = str(quality)
    return response
