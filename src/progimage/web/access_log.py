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
    if not log.isEnabledFor(logging.INFO):
        return response
    started = g.get("access_started", time.perf_counter())
    current = request._get_current_object()  # one proxy look-up, not eight
    query = current.query_string
    fields = {
        "method": current.method,
        # Quoted back, so that a decoded %0A cannot forge a second log line.
        "path": quote(
            current.path + ("?" + query.decode(errors="replace") if query else ""),
            safe=URL_SAFE,
        ),
        "status": response.status_code,
        "bytes": response.content_length,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "request_id": request_id,
        # The socket's peer, or behind PROGIMAGE_TRUSTED_PROXIES the forwarded one.
        "client": current.remote_addr,
    }
    log.info(
        "%s %s %s %s %sms %s", fields["method"], fields["path"], fields["status"],
        "-" if fields["bytes"] is None else fields["bytes"], fields["duration_ms"],
        request_id, extra={"fields": fields},
    )
    return response
