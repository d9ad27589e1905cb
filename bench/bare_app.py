"""The floor to compare against: a bare Flask app that sends one file with send_file
and checks uploads with Pillow.

Run with the same gunicorn settings as ProgImage; BENCH_FILE names the file, and
BENCH_STORE the folder ``PUT /store`` keeps uploads in.
"""

import io
import os
import tempfile
import uuid

from flask import Flask, Response, request, send_file
from PIL import Image


def create_app() -> Flask:
    """An app with three routes: ``GET /file``; ``PUT /upload``, which verifies the
    multipart file ``data`` or a raw body with Pillow and keeps nothing; and ``PUT
    /store``, which verifies a raw body the same way, then keeps it durably."""
    app = Flask(__name__)
    path = os.environ["BENCH_FILE"]
    store = os.environ.get("BENCH_STORE", tempfile.gettempdir())

    @app.get("/file")
    def file() -> Response:
        return send_file(path, mimetype="image/jpeg", max_age=31536000)

    @app.put("/upload")
    def upload() -> Response:
        field = request.files.get("data")
        body = field.stream if field else io.BytesIO(request.get_data())
        _verify(body)
        return Response("ok", mimetype="text/plain")

    @app.put("/store")
    def keep() -> Response:
        data = request.get_data()
        _verify(io.BytesIO(data))
        return Response(_write_durably(store, data), mimetype="text/plain")

    return app


def _verify(body: io.BytesIO) -> None:
    with Image.open(body) as image:
        image.verify()


def _write_durably(folder: str, data: bytes) -> str:
    """The least a store that answers only once an upload is safe does: a new file,
    fsynced, renamed into place, and the folder fsynced; its name."""
    name = uuid.uuid4().hex
    staging = os.path.join(folder, f".{name}")
    with open(staging, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.rename(staging, os.path.join(folder, name))
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return name
