"""Access log lines and request ids."""

import dataclasses
import json
import logging
import re

import pytest

from progimage import create_app, logs
from progimage.config import Settings, SettingsError

ACCESS = "progimage.access"


def access_lines(caplog) -> list[logging.LogRecord]:
    """The access log records captured so far."""
    return [record for record in caplog.records if record.name == ACCESS]


def test_request_id_is_made_when_missing(client):
    """Without X-Request-ID the response carries a fresh one."""
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch("[0-9a-f]{32}", first) and first != second


@pytest.mark.parametrize("given", [
    "abc-123", "5f0c3a1e9b2d4c7f8a6e1d0b3c2a4f5e", "req:1.2_3+/=",
])
def test_request_id_is_echoed(client, given):
    """A well-formed X-Request-ID (from nginx or a client) is sent back."""
    response = client.get("/healthz", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", ["a b", "x" * 129, "<script>", "\u00e9t\u00e9"])
def test_unsafe_request_id_is_replaced(client, given):
    """An id that could not be logged as is gets replaced by a fresh one."""
    response = client.get("/healthz", headers={"X-Request-ID": given})
    assert re.fullmatch("[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_one_text_line_per_request(client, caplog):
    """Each request logs method, path, status, bytes, duration and request id."""
    caplog.set_level(logging.INFO, ACCESS)
    client.get("/healthz?probe=1", headers={"X-Request-ID": "rid-7"})
    [record] = access_lines(caplog)
    assert re.fullmatch(
        r"GET /healthz\?probe=1 200 \d+ \d+\.\dms rid-7", record.getMessage()
    )


def test_path_cannot_forge_log_lines(client, caplog):
    """A newline decoded from the URL stays quoted in the log line."""
    caplog.set_level(logging.INFO, ACCESS)
    client.get("/storage/x%0AGET%20/fake%20200")
    [record] = access_lines(caplog)
    assert "\n" not in record.getMessage()
    assert record.getMessage().startswith("GET /storage/x%0AGET%20/fake%20200 404 ")


def test_json_lines_carry_the_same_fields(client, caplog):
    """In JSON format the access fields are top-level keys of one object."""
    caplog.set_level(logging.INFO, ACCESS)
    client.get("/nowhere", headers={"X-Request-ID": "rid-8"})
    [record] = access_lines(caplog)
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["level"] == "INFO" and entry["logger"] == ACCESS
    assert {key: entry[key] for key in ("method", "path", "status", "request_id")} == {
        "method": "GET", "path": "/nowhere", "status": 404, "request_id": "rid-8",
    }
    assert isinstance(entry["bytes"], int) and entry["duration_ms"] >= 0


def test_json_errors_carry_the_traceback(app, client, monkeypatch, caplog):
    """An unexpected error logs one JSON object with the exception text."""
    def broken(*args):
        raise RuntimeError("boom")
    monkeypatch.setattr(app.extensions["progimage"].storage, "record", broken)
    client.get("/storage/5f0c3a1e-9b2d-4c7f-8a6e-1d0b3c2a4f5e")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    entry = json.loads(logs.JsonFormatter().format(record))
    assert "RuntimeError: boom" in entry["exception"]


@pytest.mark.parametrize("log_format, formatter", [
    ("json", logs.JsonFormatter), ("text", logs.TextFormatter),
])
def test_log_format_setting_picks_the_formatter(tmp_path, log_format, formatter):
    """PROGIMAGE_LOG_FORMAT chooses how the service's handler formats records."""
    create_app(Settings(storage=str(tmp_path), log_format=log_format))
    [handler] = logging.getLogger("progimage").handlers
    assert type(handler.formatter) is formatter


def test_unknown_log_format_fails_at_start():
    """Any other format is refused with the choices."""
    with pytest.raises(SettingsError, match="one of text, json, not 'xml'"):
        Settings.from_env({"PROGIMAGE_LOG_FORMAT": "xml"})


@pytest.mark.parametrize("hops, forwarded, seen", [
    (0, "203.0.113.7", "127.0.0.1"),
    (1, "203.0.113.7", "203.0.113.7"),
    (1, "198.51.100.9, 203.0.113.7", "203.0.113.7"),
    (2, "198.51.100.9, 203.0.113.7", "198.51.100.9"),
])
def test_the_client_address_comes_from_trusted_proxies_only(
    app_factory, settings, caplog, hops, forwarded, seen,
):
    """PROGIMAGE_TRUSTED_PROXIES hops of X-Forwarded-For are believed, no more: a
    client cannot pick its address by sending the header itself."""
    app = app_factory(dataclasses.replace(settings, trusted_proxies=hops))
    caplog.set_level(logging.INFO, ACCESS)
    app.test_client().get("/healthz", headers={"X-Forwarded-For": forwarded},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    [record] = access_lines(caplog)
    assert json.loads(logs.JsonFormatter().format(record))["client"] == seen
