"""Log formats: the time texts made once a second read as the standard ones."""

import json
import logging
from datetime import datetime, timezone

import pytest

from progimage import logs

# Two records in one second, then one in the next, and one at a second's start.
MOMENTS = (1764657931.042, 1764657931.999, 1764657932.5, 1764657933.0)


def record_at(created: float) -> logging.LogRecord:
    """An INFO record of the access logger made at ``created`` (Unix time)."""
    record = logging.LogRecord("progimage.access", logging.INFO, "", 0, "GET %s",
                               ("/healthz",), None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    return record


def test_text_lines_read_as_the_standard_formatter_makes_them():
    """Each line equals what logging.Formatter makes of TEXT_FORMAT, to the
    millisecond, also across a change of second."""
    formatter, standard = logs.TextFormatter(), logging.Formatter(logs.TEXT_FORMAT)
    for created in MOMENTS:
        record = record_at(created)
        assert formatter.format(record) == standard.format(record)


@pytest.mark.parametrize("created, expected", [
    (1764657931.042, "2025-12-02T06:45:31.042+00:00"),
    (1764657931.999, "2025-12-02T06:45:31.999+00:00"),
    (1764657932.5, "2025-12-02T06:45:32.500+00:00"),
    (1764657933.0, "2025-12-02T06:45:33.000+00:00"),
])
def test_json_time_is_utc_iso_8601_to_the_millisecond(created, expected):
    """The time key of one formatter used in order over the moments."""
    entry = json.loads(logs.JsonFormatter().format(record_at(created)))
    assert entry["time"] == expected
    assert entry["time"] == datetime.fromtimestamp(created, timezone.utc).isoformat(
        timespec="milliseconds")


def test_one_json_formatter_keeps_up_with_the_seconds():
    """The same formatter, reused across seconds, never repeats a stale second."""
    formatter = logs.JsonFormatter()
    times = [json.loads(formatter.format(record_at(created)))["time"]
             for created in MOMENTS]
    assert times == ["2025-12-02T06:45:31.042+00:00", "2025-12-02T06:45:31.999+00:00",
                     "2025-12-02T06:45:32.500+00:00", "2025-12-02T06:45:33.000+00:00"]
