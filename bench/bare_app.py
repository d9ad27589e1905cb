"""The floor to compare against: a bare Flask app that sends one file with send_file
and checks uploads with Pillow.

Run with the same gunicorn settings as ProgImage; BENCH_FILE names the file.
"""

import io
import os

from flask import Flask, Response, request, send_file
from PIL import Image


def create_app() -> Flask:
    """An app with two routes: ``GET /file``, and ``PUT /upload``, which verifies the
    multipart file ``data`` or a raw body with Pillow and keeps nothing."""
    app = Flask(__name__)
    path = os.environ["BENCH_FILE"]

    @app.get("/file")
    def file() -> Response:
        return send_file(path, mimetype="image/jpeg", max_age=31536000)

    @app.put("/upload")
    def upload() -> Response:
        field = request.files.get("data")
        body = field.stream if field else io.BytesIO(request.get_data())
        with Image.open(body) as image:
            image.verify()
        return Response("ok", mimetype="text/plain")

    return app
