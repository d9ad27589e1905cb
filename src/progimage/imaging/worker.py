"""A converter process: receive jobs from the server's pipe, run each in its own
temporary folder, send back bytes, an ImageInfo or a domain error."""

import contextlib
import io
import logging
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from multiprocessing.connection import Connection

from PIL import Image

from ..exceptions import ImageTooLarge, ServiceError, UnsupportedImage

from . import converter, placeholder, plugins
from .inspect import ImageInfo, decode, inspect
from .jobs import ComputedPlaceholder, InspectJob, Job, PlaceholderJob
from .processing import SWAPPING_ORIENTATIONS

log = logging.getLogger(__name__)
# What a job gives back: an encoded image or placeholder PNG, an upload's check, or
# a placeholder computed from the image (its record keeps the hash).
Outcome = bytes | ImageInfo | ComputedPlaceholder


def serve(job_fd: int, outcome_fd: int) -> None:
    """A converter process: run the jobs from the pipe until it closes."""
    # The server decides when we stop, not a Ctrl-C meant for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    jobs = Connection(job_fd, writable=False)
    outcomes = Connection(outcome_fd, readable=False)
    try:
        # The first job only asks whether we are up: load every Pillow plugin first,
        # so that this start-up cost never counts against a conversion's time (and
        # the ones the server has beyond Pillow's own: HEIF).
        plugins.register()
        Image.init()
        jobs.recv()
        _receive_chunks(jobs)
        _send(outcomes, b"ready")
        while True:
            job = jobs.recv()
            _send(outcomes, _run(job, _receive_chunks(jobs)))
    except (EOFError, BrokenPipeError):
        return  # the server closed the pipe or is gone


def _receive_chunks(connection: Connection) -> bytes:
    """The image ``_send_chunks`` sent, whole."""
    received = bytearray()
    while piece := connection.recv_bytes():
        received += piece
    return bytes(received)


def _send(connection: Connection, outcome: Outcome | Exception) -> None:
    """Bytes go raw (flagged by None, or by the quality ``max_bytes`` chose for
    them), errors pickled."""
    if isinstance(outcome, bytes):
        connection.send(getattr(outcome, "quality", None))
        connection.send_bytes(outcome)
    else:
        connection.send(outcome)


def _run(job: Job, data: bytes) -> Outcome | Exception:
    try:
        return run(job, data)
    except ServiceError as error:
        return error
    except MemoryError:  # a step the machine (or a limit) has too little memory for
        return ImageTooLarge(
            "converting the image needs more memory than the converter could get"
        )
    except Exception:  # a bug: keep the traceback here, answer a plain 500
        log.exception("conversion crashed")
        return RuntimeError("the conversion crashed")


def run(job: Job, data: bytes) -> Outcome:
    """Run ``job`` on the image ``data`` in a fresh, private temporary folder.

    :raises ServiceError: what ``inspect`` or ``converter.convert`` raise.
    """
    stream = io.BytesIO(data)
    with _private_temp_folder():
        if isinstance(job, InspectJob):
            return inspect(stream, job.formats, job.max_pixels)
        if isinstance(job, PlaceholderJob):
            return _placeholder(job, stream)
        return converter.convert(
            stream, job.target, job.formats, job.max_pixels,
            job.options, job.mask, job.encoder, job.watermark,
        )


def _placeholder(
    job: PlaceholderJob, stream: io.BytesIO
) -> bytes | ComputedPlaceholder:
    """The placeholder PNG of ``job`` from its hash; without one, computed from the
    image in ``stream`` decoded at the smallest JPEG scale still larger than the
    sample, with the hash and average colour for its record.

    :raises ServiceError: what ``decode`` and ``placeholder.render`` raise.
    """
    size = (job.width, job.height)
    if job.orientation in SWAPPING_ORIENTATIONS:
        size = (job.height, job.width)
    if job.blurhash:
        return placeholder.render(job.blurhash, *size)
    side = placeholder.SAMPLE_SIDE
    image = decode(stream, job.formats, job.max_pixels, toward=(side, side))
    hash_, colour = placeholder.summarise(image, job.orientation)
    if not hash_:
        raise UnsupportedImage(f"an image in mode {image.mode} has no placeholder")
    return ComputedPlaceholder(placeholder.render(hash_, *size), hash_, colour)


@contextlib.contextmanager
def _private_temp_folder() -> Iterator[None]:
    """An empty folder (mode 0700) as TMPDIR and Python's temporary folder for one
    job, emptied after it.

    Ghostscript's -dSAFER still lets PostScript read, list and write files in TMPDIR
    (Pillow's EPS reader puts its copies there): an EPS must find nothing there but
    its own files, and leave nothing for the next job. A folder the job left empty
    serves the next job of this converter: removing a folder costs 4 ms here (the
    disk is mounted with ``discard``), and most jobs write nothing there.
    """
    before = os.environ.get("TMPDIR")
    folder = _job_folder()
    os.environ["TMPDIR"] = tempfile.tempdir = folder
    try:
        yield
    finally:
        tempfile.tempdir = None
        if before is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = before
        _leave_empty(folder)


_reused: list[str] = []


def _job_folder() -> str:
    """The folder an earlier job left empty, if it is still a private, empty folder
    of ours; else a new one."""
    while _reused:
        folder = _reused.pop()
        with contextlib.suppress(OSError):
            status = os.lstat(folder)
            private = (stat.S_ISDIR(status.st_mode) and status.st_uid == os.getuid()
                       and stat.S_IMODE(status.st_mode) == 0o700)
            if private and not os.listdir(folder):
                return folder
        shutil.rmtree(folder, ignore_errors=True)
    return tempfile.mkdtemp(prefix="job-")


def _leave_empty(folder: str) -> None:
    """Keep ``folder`` for the next job if the job left nothing in it, else remove
    it with what it holds."""
    try:
        empty = not os.listdir(folder)
    except OSError:
        return
    if empty:
        _reused.append(folder)
    else:
        shutil.rmtree(folder, ignore_errors=True)
