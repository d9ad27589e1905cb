"""The converter process's side of a job: run it, each in its own temporary folder."""

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator

from . import converter, imaging
from .imaging import ImageInfo
from .jobs import InspectJob, Job


def run(job: Job, data: bytes) -> bytes | ImageInfo:
    """Run ``job`` on the image ``data`` in a fresh, private temporary folder.

    :raises ServiceError: what ``imaging.inspect`` or ``converter.convert`` raise.
    """
    stream = io.BytesIO(data)
    with _private_temp_folder():
        if isinstance(job, InspectJob):
            return imaging.inspect(stream, job.formats, job.max_pixels)
        return converter.convert(
            stream, job.target, job.formats, job.max_pixels,
            job.options, job.mask, job.encoder,
        )


@contextlib.contextmanager
def _private_temp_folder() -> Iterator[None]:
    """An empty folder (mode 0700) as TMPDIR and Python's temporary folder for one
    job, removed after it.

    Ghostscript's -dSAFER still lets PostScript read, list and write files in TMPDIR
    (Pillow's EPS reader puts its copies there): an EPS must find nothing there but
    its own files, and leave nothing for the next job.
    """
    before = os.environ.get("TMPDIR")
    folder = tempfile.mkdtemp(prefix="job-")
    os.environ["TMPDIR"] = tempfile.tempdir = folder
    try:
        yield
    finally:
        tempfile.tempdir = None
        if before is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = before
        shutil.rmtree(folder, ignore_errors=True)
