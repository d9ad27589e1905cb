"""Tiny HTTP servers on loopback, in a thread, that answer as a test says: a
hostile or redirecting server, or one that records what a client sent."""

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: Answers one request: reads what it wants of it, writes the whole answer.
Handle = Callable[[BaseHTTPRequestHandler], None]


@contextlib.contextmanager
def serve(handle: Handle, host: str = "127.0.0.1") -> Iterator[str]:
    """A server answering every request with ``handle``; yields its URL (with
    ``host`` as the name, e.g. ``localhost`` for another host than 127.0.0.1)."""
    handler = type("Handler", (BaseHTTPRequestHandler,), {
        "do_GET": handle, "do_POST": handle, "do_DELETE": handle,
        "log_message": lambda *args: None,
    })
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            yield f"http://{host}:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)


def answer(request: BaseHTTPRequestHandler, status: int, body: bytes = b"",
           content_type: str = "application/problem+json", **headers: str) -> None:
    """Send a whole answer, and close the connection (the body may be unread)."""
    request.send_response(status)
    for name, value in {"Content-Type": content_type,
                        "Content-Length": str(len(body)), "Connection": "close",
                        **headers}.items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)


def read_body(request: BaseHTTPRequestHandler) -> bytes:
    """The request's body, which the client must have sent with a Content-Length."""
    return request.rfile.read(int(request.headers.get("Content-Length", 0)))
