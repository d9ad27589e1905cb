"""The policy for system programs: skipped with the package named where absent,
a failure on CI, and installed by .ci/run."""

import os
import re
import subprocess
import sys
from pathlib import Path

from system_programs import PACKAGES

TESTS = Path(__file__).resolve().parent
# A test needing a program no machine has, run by its own pytest.
NEEDS_MISSING = """
import system_programs

system_programs.PACKAGES["progimage-no-such-program"] = "progimage-no-such-package"


def test_needs_it():
    system_programs.require("progimage-no-such-program")
"""


def _pytest(folder: Path, ci: str | None) -> subprocess.CompletedProcess:
    """Run pytest -ra on NEEDS_MISSING, outside this checkout's settings."""
    (folder / "test_needs_missing.py").write_text(NEEDS_MISSING)
    environ = {k: v for k, v in os.environ.items()
               if k != "CI" and not k.startswith("COV")}
    if ci is not None:
        environ["CI"] = ci
    environ.update(PYTHONPATH=str(TESTS), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider",
         "-p", "no:cov", "test_needs_missing.py"],
        cwd=folder, env=environ, capture_output=True, text=True, timeout=60,
    )


def test_missing_program_is_a_skip_naming_the_package(tmp_path):
    """Off CI the test is skipped, and pytest -ra says which package to install."""
    run = _pytest(tmp_path, ci=None)
    assert run.returncode == 0, run.stdout
    assert re.search(
        r"SKIPPED \[1\] test_needs_missing.py:\d+: progimage-no-such-program is not "
        r"installed \(Debian package progimage-no-such-package\)", run.stdout
    ), run.stdout


def test_missing_program_fails_on_ci(tmp_path):
    """With CI=true the same test fails, with the same reason."""
    run = _pytest(tmp_path, ci="true")
    assert run.returncode == 1, run.stdout
    assert ("FAILED test_needs_missing.py::test_needs_it - Failed: CI=true but "
            "progimage-no-such-program is not installed (Debian package "
            "progimage-no-such-package)") in run.stdout, run.stdout


def test_ci_installs_every_package():
    """.ci/run's package list holds the package of every program the tests run."""
    script = (TESTS.parent / ".ci" / "run").read_text()
    listed = re.search(r"^packages=\((.*)\)$", script, re.MULTILINE)
    assert listed, "no packages=(...) line in .ci/run"
    assert set(PACKAGES.values()) <= set(listed.group(1).split())
