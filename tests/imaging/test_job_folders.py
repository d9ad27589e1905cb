"""Each converter job's temporary folder: private and empty at the start of every
job, nothing left behind after it, reused when the job left it empty."""

import os
import stat
import tempfile

import pytest

from progimage.imaging import worker


@pytest.fixture(autouse=True)
def _own_tmp(tmp_path, monkeypatch):
    """The converter's TMPDIR is a folder of this test; no folder kept from others."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(worker, "_reused", [])


def _job() -> str:
    """Run an empty job; the folder it had, checked to be private and empty."""
    with worker._private_temp_folder():
        folder = os.environ["TMPDIR"]
        assert tempfile.gettempdir() == folder
        assert os.listdir(folder) == []
        assert stat.S_IMODE(os.lstat(folder).st_mode) == 0o700
    return folder


def test_a_folder_left_empty_serves_the_next_job(tmp_path):
    first = _job()
    assert _job() == first
    assert os.listdir(tmp_path) == [os.path.basename(first)]


def test_a_folder_with_files_left_is_removed_and_the_next_job_gets_a_new_one(tmp_path):
    with worker._private_temp_folder():
        used = os.environ["TMPDIR"]
        with open(os.path.join(used, "planted"), "w") as planted:
            planted.write("x")
        os.mkdir(os.path.join(used, "nested"))
    assert not os.path.exists(used)
    assert _job() != used
    assert len(os.listdir(tmp_path)) == 1


def test_a_folder_opened_to_others_is_not_reused(tmp_path):
    first = _job()
    os.chmod(first, 0o755)
    second = _job()
    assert second != first and not os.path.exists(first)


def test_the_tmpdir_of_the_converter_comes_back_after_a_job(tmp_path):
    _job()
    assert os.environ["TMPDIR"] == str(tmp_path)
    assert tempfile.gettempdir() == str(tmp_path)


def test_a_kept_folder_written_to_between_jobs_is_not_reused():
    """Something still running after its job (a straggling child) that writes into
    the kept folder does not hand its file to the next job."""
    first = _job()
    with open(os.path.join(first, "late"), "w") as late:
        late.write("x")
    assert _job() != first
    assert not os.path.exists(first)
