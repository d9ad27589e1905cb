"""The published contract: /openapi.json documents every route, and the live server
keeps to it under Schemathesis."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from live_servers import Gunicorn

SOURCE = Path(__file__).resolve().parents[2] / "src"
DOCUMENT = SOURCE / "progimage" / "web" / "openapi.json"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_document_is_served_as_kept_in_the_repo(client):
    """GET /openapi.json answers the OpenAPI 3.1 document of the repository."""
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document == json.loads(DOCUMENT.read_text())
    assert document["openapi"].startswith("3.1")


def test_every_route_and_method_is_documented(app):
    """No route of the app is missing from the document (HEAD included).

    Paths compare as templates: OpenAPI forbids two paths that differ only in the
    name of a parameter, as Flask's ``/storage/<name>`` and ``/storage/<ref>`` do.
    """
    paths = {
        _template(path): set(operations) - {"parameters"}
        for path, operations in json.loads(DOCUMENT.read_text())["paths"].items()
    }
    routes = {
        (method.lower(), _template(rule.rule))
        for rule in app.url_map.iter_rules() if rule.endpoint != "static"
        for method in rule.methods - {"OPTIONS"}
    }
    missing = {route for route in routes if route[0] not in paths.get(route[1], ())}
    assert not missing


def _template(path: str) -> str:
    """A path with every parameter unnamed: ``/storage/<ref>`` -> ``/storage/{}``."""
    return re.sub(r"[<{][^>}]*[>}]", "{}", path)


def test_every_error_response_is_problem_json():
    """Each documented 4xx/5xx answer of a GET, PUT or POST is a problem document."""
    document = json.loads(DOCUMENT.read_text())
    shared = document["components"]["responses"]
    errors = {
        (method, path, status): shared[response["$ref"].rsplit("/", 1)[1]]
        for path, operations in document["paths"].items()
        for method, operation in operations.items() if method in ("get", "put", "post")
        for status, response in operation["responses"].items() if int(status) >= 400
    }
    assert errors
    plain = {key for key, response in errors.items()
             if "application/problem+json" not in response["content"]}
    assert not plain


@pytest.mark.system
def test_live_server_keeps_to_the_contract(tmp_path):
    """Schemathesis finds no server error and no response outside the document."""
    # Generated upload URLs are refused before any DNS lookup: no test reaches out.
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data"),
           "PROGIMAGE_FETCH_ALLOWED_HOSTS": "fetch.invalid"}
    with Gunicorn(tmp_path, env) as server:
        run = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{server.url}/openapi.json",
             # Random bytes are schema-valid uploads yet not images: 400 is right.
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--max-examples", "25", "--seed", "20261127", "--workers", "2",
             "--request-timeout", "30"],
            capture_output=True, text=True, timeout=240, cwd=tmp_path,
            # Measuring coverage of Schemathesis itself is slow and of no use.
            env={k: v for k, v in os.environ.items() if not k.startswith("COV")},
        )
        log = server.output()
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert "Traceback" not in log, log[-4000:]


def test_process_takes_the_query_of_a_stored_images_read():
    """POST /process.<ext> documents every query parameter a stored image's GET
    does, so that an option added to one cannot be forgotten in the other."""
    paths = json.loads(DOCUMENT.read_text())["paths"]

    def query(operation: dict) -> list[str]:
        return [p["name"] for p in operation["parameters"] if p["in"] == "query"]

    assert query(paths["/process.{extension}"]["post"]) == query(
        paths["/storage/{name}"]["get"])
