"""Conversions run in a few separate processes, so that one running too long is killed.

A thread cannot be stopped, a process can. Each server process keeps up to ``size``
converter processes, started on first use and reused conversion after conversion (a
request pays for two pipe transfers, not for a process start), and stopped once idle
for ``idle`` seconds (PROGIMAGE_CONVERT_IDLE), which gives their memory back. A
conversion that runs past the time limit (waiting for a free converter included) is
killed, its converter is replaced on the next use, and the request answers 503; the
server process goes on.
Each converter leads its own process group, so that whatever it started (Ghostscript
for EPS) is killed with it.
Only so many conversions may run or wait at once (admission.py); more answer 503 at
once.

Converters are fresh interpreters (``python -c``), not forks of the server: forking a
threaded server can copy a lock some other thread holds, and multiprocessing's own
start methods re-run the caller's ``__main__`` script in the child.
"""

import contextlib
import fcntl
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import BinaryIO

from .admission import Admission, remaining
from .exceptions import ConversionFailed, ConversionOverran, ConversionTimedOut
from .imaging import ComputedPlaceholder, Encoded, ImageInfo, InspectJob, Job

log = logging.getLogger(__name__)

# Seconds a converter process may take to start (import Pillow) before it is given up.
STARTUP_TIMEOUT = 60
# Seconds a converter's start may add to a request's time limit. A start (importing
# Pillow) takes 0.3-0.5 s on an idle machine and up to 8 s on a busy one; one slower
# than this goes on and serves later requests.
START_GRACE = 2
# Bytes of pipe buffer asked for (Linux grants up to /proc/sys/fs/pipe-max-size).
PIPE_SIZE = 1024 * 1024
# Seconds an idle converter process gets to exit by itself when the pool closes.
STOP_GRACE = 2
# What a converter process runs; its arguments are the pipe ends it reads and writes.
BOOT = (
    "import sys; from progimage.imaging.worker import serve; "
    "serve(*map(int, sys.argv[1:]))"
)


class ConverterPool:
    """Up to ``size`` converter processes, each converting one image at a time, and
    up to ``waiting`` conversions waiting for one of them (``size`` if None)."""

    def __init__(
        self, size: int, timeout: float, waiting: int | None = None, idle: float = 0
    ) -> None:
        """``idle``: seconds a converter may wait for work before it is stopped (its
        slot starts a new one when needed); 0 keeps converters until ``close``."""
        self.timeout = timeout
        waiting = size if waiting is None else waiting
        #: Callers that hold their admission while they wait for something else too
        #: (the variant lock) enter it themselves; ``convert`` then shares it.
        self.admission = Admission(size + waiting, timeout)
        # A free slot holds a running converter, or None where one is to be started.
        self._free: queue.LifoQueue[_Converter | None] = queue.LifoQueue()
        for _ in range(size):
            self._free.put(None)
        self._running: set[_Converter] = set()
        self._lock = threading.Lock()
        self._starter = ThreadPoolExecutor(size, thread_name_prefix="converter-start")
        weakref.finalize(self, _stop_all, self._running)
        if idle > 0:
            stopping = threading.Event()
            weakref.finalize(self, stopping.set)
            threading.Thread(
                target=_reap_idle, args=(weakref.ref(self), idle, stopping),
                name="converter-reaper", daemon=True,
            ).start()

    def convert(
        self, data: bytes | BinaryIO, job: Job, wait: bool | None = None
    ) -> bytes | ImageInfo | ComputedPlaceholder:
        """``job`` run on the image ``data`` (bytes, or a file read from where it
        stands) by a converter process (``imaging.worker.run``), waiting for a free one
        included, within the time limit. An upload check waits for a place among
        the admitted jobs (its body is in already, and a check takes milliseconds);
        a conversion finding none is refused at once. ``wait`` overrides that (the
        check of a body sent to be converted is refused like a conversion).

        :raises ConvertersBusy: as many conversions as allowed are in already.
        :raises ConversionTimedOut: no converter was free in time.
        :raises ConversionOverran: the job ran past the limit.
        :raises ConversionFailed: the converter process died on the way.
        :raises ServiceError: whatever the job raises, as it raised it.
        """
        if wait is None:
            wait = isinstance(job, InspectJob)
        with self.admission.admit(wait=wait) as deadline:
            return self._run((data, job), deadline)

    def _run(
        self, job: tuple[bytes | BinaryIO, Job], deadline: float
    ) -> bytes | ImageInfo | ComputedPlaceholder:
        """Run ``job`` on a free converter by ``deadline`` (``time.monotonic()``)."""
        worker = self._take(deadline)
        if worker is None:
            # The start is the pool's cost, not the request's, up to START_GRACE.
            started = time.monotonic()
            worker = self._start_by(deadline + START_GRACE)
            deadline += min(time.monotonic() - started, START_GRACE)
        try:
            outcome = worker.run(job, remaining(deadline))
        except BaseException as error:
            self._retire(worker)
            if isinstance(error, TimeoutError):
                raise ConversionOverran(
                    f"the conversion ran past the limit of {self.timeout:g} s "
                    "(waiting included) and was stopped"
                ) from None
            raise
        worker.last_used = time.monotonic()
        self._free.put(worker)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _take(self, deadline: float) -> "_Converter | None":
        """A free slot, taken with time left before ``deadline``.

        :raises ConversionTimedOut: none was free in time.
        """
        try:
            worker = self._free.get(timeout=remaining(deadline))
        except queue.Empty:
            worker = None
        else:
            if remaining(deadline):
                return worker
            self._free.put(worker)  # too late to use: left for the next request
        raise ConversionTimedOut(
            f"every converter stayed busy for {self.timeout:g} s; try again later"
        )

    def close(self) -> None:
        """Stop the converters (idle ones exit by themselves, busy ones are killed
        after STOP_GRACE); the pool starts converters again if it is used again."""
        idle = []
        with contextlib.suppress(queue.Empty):
            while True:
                idle.append(self._free.get_nowait())
        with self._lock:
            running = list(self._running)
            self._running.clear()
        for _ in idle:
            self._free.put(None)
        _stop_all(running)

    def _start_by(self, deadline: float) -> "_Converter":
        """Start a converter for a taken slot, waiting for it until ``deadline``.

        A start slower than that (a busy machine) goes on, and its converter fills
        the slot for a later request: the next start would be no faster.

        :raises ConversionTimedOut: it was not up by the deadline.
        :raises ConversionFailed: it died while starting.
        """
        starting = self._starter.submit(self._start)
        try:
            return starting.result(timeout=remaining(deadline))
        except BaseException as error:
            starting.add_done_callback(self._fill_slot)
            if isinstance(error, TimeoutError):
                raise ConversionTimedOut(
                    f"no converter was ready within the limit of {self.timeout:g} s; "
                    "try again later"
                ) from None
            raise

    def processes(self) -> list[int]:
        """The process ids of the running converters (to measure them)."""
        with self._lock:
            return [worker.process.pid for worker in self._running]

    def retire_idle(self, idle: float) -> None:
        """Stop the free converters unused for ``idle`` seconds; their slots start
        new ones when needed."""
        free = []
        with contextlib.suppress(queue.Empty):
            while True:
                free.append(self._free.get_nowait())
        cutoff = time.monotonic() - idle
        retired = [worker for worker in free
                   if worker is not None and worker.last_used < cutoff]
        # Slots back at once, oldest first (the queue is last in, first out), so
        # that no request waits while the retired ones stop.
        for worker in reversed(free):
            self._free.put(None if worker in retired else worker)
        for worker in retired:
            log.info("converter process %s idle, stopped", worker.process.pid)
            with self._lock:
                self._running.discard(worker)
            worker.stop(STOP_GRACE)

    def _fill_slot(self, starting: "Future[_Converter]") -> None:
        """Put a late converter (or None, if it failed to start) in its slot."""
        self._free.put(None if starting.exception() else starting.result())

    def _start(self) -> "_Converter":
        worker = _Converter.start()
        with self._lock:
            self._running.add(worker)
        return worker

    def _retire(self, worker: "_Converter | None") -> None:
        """Kill a converter that failed or overran; its slot gets a fresh one."""
        if worker is not None:
            with self._lock:
                self._running.discard(worker)
            worker.stop()
        self._free.put(None)


class _Converter:
    """One converter process, the two pipes to it and its temporary folder."""

    def __init__(
        self, process: subprocess.Popen, jobs: Connection, outcomes: Connection,
        scratch: str,
    ) -> None:
        self.process = process
        self.jobs = jobs
        self.outcomes = outcomes
        #: The converter's TMPDIR, in which each job gets a folder of its own; the
        #: server removes it, since a killed converter cannot.
        self.scratch = scratch
        #: When it last finished a job (``time.monotonic()``).
        self.last_used = time.monotonic()

    @classmethod
    def start(cls) -> "_Converter":
        """Start a converter process and wait until it is ready."""
        job_read, job_write = _pipe()
        outcome_read, outcome_write = _pipe()
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [package_root, env.get("PYTHONPATH")])
        )
        env["TMPDIR"] = scratch = tempfile.mkdtemp(prefix="progimage-converter-")
        process = subprocess.Popen(
            [sys.executable, "-c", BOOT, str(job_read), str(outcome_write)],
            pass_fds=(job_read, outcome_write), stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )
        os.close(job_read)
        os.close(outcome_write)
        worker = cls(
            process,
            Connection(job_write, readable=False),
            Connection(outcome_read, writable=False),
            scratch,
        )
        try:
            # The conversion time limit starts once the interpreter is up.
            worker.run((b"", None), STARTUP_TIMEOUT)
        except BaseException:
            worker.stop()
            raise
        return worker

    def run(
        self, job: tuple[bytes | BinaryIO, Job | None], timeout: float
    ) -> bytes | ImageInfo | ComputedPlaceholder | Exception:
        """Send one job and wait up to ``timeout`` s for its outcome (bytes, an
        upload's ImageInfo, a computed placeholder, or an error).

        The image travels as raw bytes beside the pickled job, a pipe's width at a
        time: the server never holds a second copy of an upload (a 40 MB upload
        costs the server process one chunk, not 40 MB), and nothing is pickled.

        :raises TimeoutError: the outcome did not come in time.
        :raises ConversionFailed: the process died on the way.
        """
        data, payload = job
        try:
            self.jobs.send(payload)
            _send_chunks(self.jobs, data)
            ready = self.outcomes.poll(timeout)
            outcome = _receive(self.outcomes) if ready else None
        except (EOFError, OSError):
            log.error("converter process %s died", self.process.pid)
            raise ConversionFailed(
                "the converter stopped while converting this image"
            ) from None
        if not ready:
            raise TimeoutError
        return outcome

    def stop(self, grace: float = 0) -> None:
        """Close the pipe, give an idle process ``grace`` s to exit, then kill it
        with its process group (a Ghostscript it started goes too).

        A process stuck in C code (a runaway conversion) only stops when killed.
        """
        self.jobs.close()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            # Not reaped yet, so its pid still names its group (start_new_session).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.outcomes.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _reap_idle(
    pool_ref: "weakref.ref[ConverterPool]", idle: float, stopping: threading.Event
) -> None:
    """Every half ``idle``, retire the pool's idle converters, until it is gone."""
    while not stopping.wait(idle / 2):
        pool = pool_ref()
        if pool is None:
            return
        pool.retire_idle(idle)
        del pool  # not held while waiting: the pool may be collected meanwhile


def _pipe() -> tuple[int, int]:
    """A pipe as wide as the system allows (up to 1 MiB): images cross it in fewer
    rounds than through the 64 KiB default."""
    read, write = os.pipe()
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    return read, write


def _stop_all(workers: set[_Converter] | list[_Converter]) -> None:
    for worker in list(workers):
        worker.stop(grace=STOP_GRACE)
    workers.clear()


def _send_chunks(connection: Connection, data: bytes | BinaryIO) -> None:
    """The image in pieces of at most a pipe's width, then an empty piece."""
    if isinstance(data, bytes):
        view = memoryview(data)
        for start in range(0, len(view), PIPE_SIZE):
            connection.send_bytes(view[start:start + PIPE_SIZE])
    else:
        while piece := data.read(PIPE_SIZE):
            connection.send_bytes(piece)
    connection.send_bytes(b"")


def _receive(
    connection: Connection,
) -> bytes | ImageInfo | ComputedPlaceholder | Exception:
    """An outcome as the converter's ``_send`` sent it: raw bytes after None or
    after their quality (an ``Encoded``), else pickled."""
    outcome = connection.recv()
    if outcome is None:
        return connection.recv_bytes()
    if isinstance(outcome, int):
        return Encoded.at(connection.recv_bytes(), outcome)
    return outcome
