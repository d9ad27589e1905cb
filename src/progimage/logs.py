"""Log set-up: the service's records go to stderr as text or as JSON lines."""

import json
import logging
from datetime import datetime, timezone

# The process id tells which gunicorn worker wrote a line.
TEXT_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the fields of access records at top level."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object: time, level, logger, message and extras."""
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(log_format: str) -> None:
    """Send ``progimage.*`` records at INFO and above to stderr in ``log_format``."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logger = logging.getLogger("progimage")
    # One handler per process, replaced when another app is created (as tests do).
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
