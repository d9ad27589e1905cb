"""What a converter answers for a job: its result, a domain error, never a crash for
a foreseeable failure."""

import pytest

from helpers import make_image
from progimage.exceptions import ImageTooLarge
from progimage.imaging import ConvertJob, converter, worker
from progimage.imaging.formats import FormatRegistry

REGISTRY = FormatRegistry.from_pillow()


@pytest.fixture(autouse=True)
def _own_tmp(tmp_path, monkeypatch):
    """Jobs make their private folders in this test's folder."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setattr(worker, "_reused", [])


def _job() -> ConvertJob:
    return ConvertJob(REGISTRY.for_name("WEBP"), REGISTRY, 50_000_000)


def test_a_job_answers_its_bytes():
    """A conversion answers the encoded image."""
    assert worker._run(_job(), make_image("PNG"))[:4] == b"RIFF"


def test_running_out_of_memory_is_image_too_large(monkeypatch):
    """A step that cannot get the memory it needs answers ImageTooLarge (422), not
    a crash (500): a large image on a small machine is foreseeable."""
    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(converter, "convert", out_of_memory)
    outcome = worker._run(_job(), make_image("PNG"))
    assert isinstance(outcome, ImageTooLarge)
    assert "more memory" in str(outcome)


def test_a_bug_is_a_crash(monkeypatch):
    """Anything else unexpected stays a crash, logged with its traceback."""
    def broken(*args, **kwargs):
        raise NameError("a bug")

    monkeypatch.setattr(converter, "convert", broken)
    outcome = worker._run(_job(), make_image("PNG"))
    assert isinstance(outcome, RuntimeError)
    assert str(outcome) == "the conversion crashed"
