"""The floor to compare against: a bare Flask app that sends one file with send_file.

Run with the same gunicorn settings as ProgImage; BENCH_FILE names the file.
"""

import os

from flask import Flask, Response, send_file


def create_app() -> Flask:
    """An app with one route, ``GET /file``."""
    app = Flask(__name__)
    path = os.environ["BENCH_FILE"]

    @app.get("/file")
    def file() -> Response:
        return send_file(path, mimetype="image/jpeg", max_age=31536000)

    return app
