"""System programs the tests drive: used where present, skipped where absent, and
required on CI (``CI=true``), which must never skip them silently."""

import os
import shutil
from typing import NoReturn

import pytest

# Each program the tests run, with the Debian package that installs it. .ci/run
# installs every one of these packages (tests/test_system_programs.py checks).
PACKAGES = {
    "chromium": "chromium",
    "curl": "curl",
    "file": "file",
    "gs": "ghostscript",
    "nginx": "nginx",
    "node": "nodejs",
    "openssl": "openssl",
    "redis-server": "redis-server",
}
# Where Debian puts daemons, which a non-root PATH often leaves out.
SYSTEM_FOLDERS = "/usr/sbin:/sbin"


def on_ci() -> bool:
    """CI says so with CI=true: there, a missing program is a failure."""
    return os.environ.get("CI", "").lower() == "true"


def find(program: str) -> str | None:
    """The path of ``program`` on PATH or in the system folders, or None."""
    return shutil.which(program) or shutil.which(program, path=SYSTEM_FOLDERS)


def require(program: str) -> str:
    """The path of ``program``; the test is skipped where it is missing, naming the
    package to install, except on CI, where it fails.

    :raises KeyError: ``program`` is not in PACKAGES (add it, and to .ci/run).
    """
    if not present(program):
        unavailable(_missing(program))
    return find(program)


def present(program: str) -> bool:
    """Whether ``program`` is there, for tests that check less without it; on CI its
    absence fails the test.

    :raises KeyError: ``program`` is not in PACKAGES (add it, and to .ci/run).
    """
    if find(program):
        return True
    if on_ci():
        unavailable(_missing(program))
    return False


def unavailable(reason: str) -> NoReturn:
    """Skip the test for want of something from the system, or fail it on CI.

    :raises pytest.skip.Exception: off CI, reported at the test, not at this line.
    :raises pytest.fail.Exception: on CI.
    """
    if on_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    raise pytest.skip.Exception(reason, _use_item_location=True)


def _missing(program: str) -> str:
    return f"{program} is not installed (Debian package {PACKAGES[program]})"
