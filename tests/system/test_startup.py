"""A bad setting stops the server at start-up with one line, before workers fork."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from live_servers import CREDENTIALS, PROGIMAGE, ROOT, free_port

BAD_PIXELS = "progimage: PROGIMAGE_MAX_PIXELS must be a whole number, not 'lots'"
# One per worker would show that they forked before the check.
WORKERS = "4"


def _start(command: list[str], tmp_path, **settings: str):
    """Run a server command with ``settings`` until it exits; (status, stderr,
    seconds). It must exit by itself, within the deadline."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PROGIMAGE_")}
    environ.update({"PROGIMAGE_STORAGE": str(tmp_path / "data"),
                    "TMPDIR": str(tmp_path), "WEB_CONCURRENCY": WORKERS, **settings})
    started = time.monotonic()
    result = subprocess.run(command, env=environ, capture_output=True, text=True,
                            timeout=30, cwd=tmp_path)
    return result.returncode, result.stderr, time.monotonic() - started


def _gunicorn() -> list[str]:
    """The command of `make run` (the Pipfile's serve script)."""
    return [sys.executable, "-m", "gunicorn", "--config",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{free_port()}", PROGIMAGE]


def test_bad_number_is_one_line_and_a_failure(tmp_path):
    """gunicorn prints the one useful line, no traceback, and exits non-zero."""
    status, stderr, seconds = _start(_gunicorn(), tmp_path,
                                     PROGIMAGE_MAX_PIXELS="lots")
    assert status != 0
    assert stderr.strip() == BAD_PIXELS
    assert seconds < 10
    assert not list(tmp_path.glob("progimage-*")), "the metrics folder is left"


def test_progimage_serve_says_the_same(tmp_path):
    """`progimage serve` runs the same gunicorn settings, so the same one line."""
    command = [str(Path(sys.executable).with_name("progimage")), "serve",
               "--port", str(free_port())]
    status, stderr, _ = _start(command, tmp_path, PROGIMAGE_MAX_PIXELS="lots")
    assert status != 0
    assert stderr.strip() == BAD_PIXELS


def test_bad_preset_is_one_line_and_a_failure(tmp_path):
    """A preset with a bad option stops gunicorn with the line naming it."""
    status, stderr, _ = _start(_gunicorn(), tmp_path,
                               PROGIMAGE_PRESETS="thumb=w:256,fit:squash")
    assert status != 0
    assert stderr.strip() == (
        "progimage: PROGIMAGE_PRESETS: preset 'thumb': parameter 'fit': "
        "must be one of contain, cover, fill, inside, pad"
    )


@pytest.mark.system
def test_missing_bucket_is_one_line_and_a_failure(tmp_path, s3_endpoint):
    """A bucket that does not exist: one line naming it, and a non-zero status."""
    status, stderr, seconds = _start(
        _gunicorn(), tmp_path, PROGIMAGE_STORAGE="s3://no-such-bucket",
        PROGIMAGE_S3_ENDPOINT=s3_endpoint, **CREDENTIALS,
    )
    assert status != 0
    assert stderr.strip() == (
        "progimage: the bucket 'no-such-bucket' does not exist or is not ours (404)"
    )
    assert seconds < 10
