"""One log line per request, and an ``X-Request-ID`` to follow it across services."""

import logging
import re
import time
import uuid
from urllib.parse import quote

from flask import Flask, Response, g, request

# Accept the caller's id (a proxy's or a client's) only if it is safe to log as is.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")

URL_SAFE = "/?&=:@!$'()*+,;-._~"

log = logging.getLogger("progimage.access")


def init_app(app: Flask) -> None:
    """Give every request an id and log it when its response is ready."""
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.access_started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    started = g.get("access_started", time.perf_counter())
    fields = {
        "method": request.method,
        # Quoted back, so that a decoded %0A cannot forge a second log line.
        "path": quote(request.full_path.rstrip("?"), safe=URL_SAFE),
        "status": response.status_code,
        "bytes": response.content_length,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "request_id": request_id,
        # The socket's peer, or behind PROGIMAGE_TRUSTED_PROXIES the forwarded one.
        "client": request.remote_addr,
    }
    log.info(
        "%(method)s %(path)s %(status)s %(bytes)s %(duration_ms)sms %(request_id)s",
        {**fields, "bytes": "-" if fields["bytes"] is None else fields["bytes"]},
        extra={"fields": fields},
    )
    return response
