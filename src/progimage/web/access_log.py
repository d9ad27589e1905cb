"""One log line per request, and an ``X-Request-ID`` to follow it across services."""

import logging
import os
import re
from urllib.parse import quote

# Accept the caller's id (a proxy's or a client's) only if it is safe to log as is.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")

URL_SAFE = "/?&=:@!$'()*+,;-._~"

log = logging.getLogger("progimage.access")


def request_id(environ: dict) -> str:
    """The caller's ``X-Request-ID`` if it is safe to log, else a fresh random one
    (128 bits, as a UUID4 has, in 32 hex digits)."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


def write(
    environ: dict, status: int, sent: int | None, seconds: float, request_id: str
) -> None:
    """Log the request of ``environ``, answered ``status`` with ``sent`` bytes in
    ``seconds``, as text and, for the JSON format, as fields."""
    if not log.isEnabledFor(logging.INFO):
        return
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    if query:
        path += "?" + query
    fields = {
        "method": environ.get("REQUEST_METHOD", ""),
        # As the server decoded it (WSGI strings are latin-1), quoted back, so that
        # a decoded %0A cannot forge a second log line.
        "path": quote(path.encode("latin-1").decode(errors="replace"), safe=URL_SAFE),
        "status": status,
        "bytes": sent,
        "duration_ms": round(seconds * 1000, 1),
        "request_id": request_id,
        # The socket's peer, or behind PROGIMAGE_TRUSTED_PROXIES the forwarded one.
        "client": environ.get("REMOTE_ADDR"),
    }
    log.info(
        "%s %s %s %s %sms %s", fields["method"], fields["path"], status,
        "-" if sent is None else sent, fields["duration_ms"], request_id,
        extra={"fields": fields},
    )
