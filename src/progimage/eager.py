"""Eager variants: presets converted right after an upload, in the background, so
that the first reader finds them in the variant cache.

Each is written ``<preset>.<ext>`` (``thumb.webp``), or ``<preset>`` for the
original's format. The work is best effort and bounded: one background thread per
server process converts them one at a time, through the same admission and time
limit as a reader's conversion; when more than ``BACKLOG`` wait, or the converters
are full, an eager variant is skipped (logged) and converted on its first read.
"""

import logging
import queue
import threading
from collections.abc import Callable, Iterable

from .exceptions import ServiceError
from .presets import Presets

log = logging.getLogger(__name__)

#: Eager variants that may wait per server process; more are skipped.
BACKLOG = 256


class EagerError(ValueError):
    """An eager variant names no preset, or a malformed extension."""


def parse_eager(text: str, presets: Presets) -> tuple[str, ...]:
    """The eager variants of a comma-separated list (``thumb.webp,hero``).

    :raises EagerError: one names no defined preset, or its extension is not
        letters and digits.
    """
    specs = tuple(dict.fromkeys(filter(None, (p.strip() for p in text.split(",")))))
    for spec in specs:
        name, dot, extension = spec.partition(".")
        if name not in presets:
            known = ", ".join(presets) or "none are configured"
            raise EagerError(f"{spec!r} names no preset (presets: {known})")
        if dot and not (extension.isascii() and extension.isalnum()):
            raise EagerError(f"{spec!r}: {extension!r} is not a file extension")
    return specs


class EagerQueue:
    """A bounded backlog of (reference, eager variant), converted by one daemon
    thread started on first use (after gunicorn's fork)."""

    def __init__(self, convert: Callable[[str, str], None]) -> None:
        self._convert = convert
        self._backlog: queue.Queue[tuple[str, str]] = queue.Queue(BACKLOG)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, ref: str, specs: Iterable[str]) -> None:
        """Queue the conversion of each of ``specs`` for ``ref``; skip (and log)
        those that do not fit in the backlog."""
        for spec in specs:
            try:
                self._backlog.put_nowait((ref, spec))
            except queue.Full:
                log.warning("eager variant %s of %s skipped: %d already wait",
                            spec, ref, BACKLOG)
        self._start()

    def join(self) -> None:
        """Wait until every queued variant has been tried (for tests and shutdown)."""
        self._backlog.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="progimage-eager", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            ref, spec = self._backlog.get()
            try:
                self._convert(ref, spec)
            except ServiceError as error:
                log.info("eager variant %s of %s not made: %s", spec, ref, error.detail)
            except Exception:  # noqa: BLE001 - a background thread must go on
                log.exception("eager variant %s of %s failed", spec, ref)
            finally:
                self._backlog.task_done()
