"""Admission to conversions: a bounded number at once, each under one deadline.

A request that waits for a converter holds a server thread while it waits. Letting
every request wait would let conversions take every thread, and probes, originals and
cached variants would queue behind them. So a server process lets in at most
``capacity`` conversions (those running plus those waiting their turn), refuses the
next ones at once, and gives each one a deadline that its waiting counts toward.
"""

import contextlib
import threading
import time
from collections.abc import Iterator

from .exceptions import ConvertersBusy


class Admission:
    """At most ``capacity`` callers inside at once, each for at most ``timeout`` s."""

    def __init__(self, capacity: int, timeout: float) -> None:
        self.capacity = capacity
        self.timeout = timeout
        self._inside = 0
        self._lock = threading.Lock()
        # The deadline of the thread's own admission: a thread already inside (a
        # conversion that waited for the variant lock) is not counted twice.
        self._held = threading.local()

    @property
    def inside(self) -> int:
        """How many callers are inside now."""
        return self._inside

    @contextlib.contextmanager
    def admit(self) -> Iterator[float]:
        """Enter, and yield the ``time.monotonic()`` deadline of this admission.

        Nested admissions of one thread share the outer one's place and deadline.

        :raises ConvertersBusy: ``capacity`` callers are inside already.
        """
        deadline = getattr(self._held, "deadline", None)
        if deadline is not None:
            yield deadline
            return
        with self._lock:
            if self._inside >= self.capacity:
                raise ConvertersBusy(
                    f"{self.capacity} conversions are running or waiting already; "
                    "try again later"
                )
            self._inside += 1
            self._held.deadline = time.monotonic() + self.timeout
        try:
            yield self._held.deadline
        finally:
            self._held.deadline = None
            with self._lock:
                self._inside -= 1


def remaining(deadline: float) -> float:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value), at least 0."""
    return max(deadline - time.monotonic(), 0.0)
