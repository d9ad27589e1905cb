"""Log set-up: the service's records go to stderr as text or as JSON lines.

Every request writes a line (web/access_log.py), so a record's cost counts: the
formatters make each second's time text once, and records skip what no format
here shows (the calling frame, thread and process names), as the logging HOWTO's
"Optimization" section describes.
"""

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone

# The process id tells which gunicorn worker wrote a line.
TEXT_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


class SecondText:
    """A text made from a whole second, remade only when the second changes: a
    formatter asks for it on every record."""

    def __init__(self, make: Callable[[int], str]) -> None:
        self._make = make
        self._second: tuple[int, str] = (-1, "")

    def at(self, created: float) -> str:
        """The text of the second ``created`` (Unix time) falls in."""
        second, text = self._second
        if int(created) != second:
            second = int(created)
            text = self._make(second)
            self._second = (second, text)
        return text


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT``, its ``asctime`` (``2026-12-02 06:45:31,042``) made once a
    second."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._seconds = SecondText(
            lambda second: time.strftime(self.default_time_format,
                                         self.converter(second)))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's local time to the millisecond."""
        return self.default_msec_format % (self._seconds.at(record.created),
                                           record.msecs)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the fields of access records at top level."""

    def __init__(self) -> None:
        super().__init__()
        self._seconds = SecondText(
            lambda second: datetime.fromtimestamp(second, timezone.utc).isoformat())

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object: time, level, logger, message and extras."""
        entry = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)

    def _time(self, record: logging.LogRecord) -> str:
        """UTC, ISO 8601 to the millisecond: ``2026-12-02T06:45:31.042+00:00``."""
        text = self._seconds.at(record.created)
        # The second's text ends in "+00:00": the milliseconds go before it.
        return f"{text[:-6]}.{int(record.msecs):03d}{text[-6:]}"


def configure(log_format: str) -> None:
    """Send ``progimage.*`` records at INFO and above to stderr in ``log_format``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logger = logging.getLogger("progimage")
    # One handler per process, replaced when another app is created (as tests do).
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no frame walk per record: no format shows the caller
