"""`pip install .` gives a `progimage` that runs: its dependencies are declared, and
`progimage serve` has its gunicorn settings inside the package."""

import configparser
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import uuid
from pathlib import Path

import pytest
import requests

from helpers import make_image
from live_servers import ROOT, free_port, stop, wait_for_port
from system_programs import unavailable

# Not copied to build the wheel: installs, outputs, and what git leaves out anyway.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".tools", "build", "dist", "reports", "data", "*.egg-info",
    "__pycache__",
)


def test_install_requires_are_the_pipfile_packages():
    """setup.cfg's install_requires are the Pipfile's [packages], same ranges."""
    pipfile = tomllib.loads((ROOT / "Pipfile").read_text())["packages"]
    expected = {_requirement(name, spec) for name, spec in pipfile.items()
                if isinstance(spec, str) or "version" in spec}
    declared = set(_options()["install_requires"].split())
    assert declared == expected


def test_python_versions_agree():
    """The README's two commands, the Pipfile and setup.cfg name the same Python."""
    version = tomllib.loads((ROOT / "Pipfile").read_text())["requires"][
        "python_version"]
    assert _options()["python_requires"] == f">={version}"
    readme = (ROOT / "README.md").read_text()
    two_commands = readme[readme.index("## Two commands"):readme.index("## The API")]
    assert f"On a machine with Python {version} " in two_commands


def _requirement(name: str, spec: str | dict) -> str:
    """A Pipfile entry as a requirement: ``limits[redis]~=5.8``."""
    if isinstance(spec, str):
        return f"{name}{spec}"
    extras = f"[{','.join(spec['extras'])}]" if spec.get("extras") else ""
    return f"{name}{extras}{spec['version']}"


def _options() -> configparser.SectionProxy:
    """setup.cfg's [options]."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    return setup["options"]


def _index_reachable() -> None:
    """Skip (or fail, on CI) when pip's index cannot be reached from here."""
    from pip._internal.models.index import PyPI

    index = os.environ.get("PIP_INDEX_URL") or PyPI.simple_url
    try:
        with urllib.request.urlopen(index, timeout=10):
            pass
    except OSError as error:
        unavailable(f"the package index {index} is not reachable ({error})")


def _run(*command: str | Path, **options) -> None:
    result = subprocess.run([str(part) for part in command], capture_output=True,
                            text=True, timeout=600, **options)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(name="installed", scope="module")
def _installed(tmp_path_factory) -> Path:
    """A wheel built from this checkout, installed with its dependencies from the
    index into an empty virtualenv; the virtualenv's folder."""
    _index_reachable()
    folder = tmp_path_factory.mktemp("wheel")
    # A copy: setuptools' build/ folder in the checkout may hold stale modules.
    shutil.copytree(ROOT, folder / "source", ignore=NOT_SOURCE, symlinks=True)
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "--no-deps", "--quiet", "-w", folder / "wheels",
         folder / "source")
    _run(sys.executable, "-m", "venv", "--without-pip", folder / "venv")
    (wheel,) = (folder / "wheels").glob("progimage-*.whl")
    # No bytecode: compiling botocore's thousands of modules would double the time.
    _run(*pip, "--python", folder / "venv" / "bin" / "python", "install", "--quiet",
         "--no-compile", wheel)
    return folder / "venv"


# Building and installing the wheel runs pip twice, each allowed 600 s.
@pytest.mark.timeout(1200)
@pytest.mark.slow
@pytest.mark.system
def test_installed_wheel_serves_an_upload(installed, tmp_path):
    """`progimage serve` from the wheel answers an upload and gives the image back."""
    port = free_port()
    # Nothing from this checkout: no PYTHONPATH to its src/, no coverage hooks.
    environ = {k: v for k, v in os.environ.items()
               if k != "PYTHONPATH" and not k.startswith("COV")}
    log = tmp_path / "serve.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [installed / "bin" / "progimage", "serve", "--port", str(port),
             "--workers", "1", "--storage", str(tmp_path / "data")],
            cwd=tmp_path, env=environ, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(server, port, log)
        data = make_image("PNG")
        url = f"http://127.0.0.1:{port}/storage/"
        answer = requests.put(url, files={"data": ("a.png", data)}, timeout=30)
        assert answer.status_code == 200, answer.text
        ref = str(uuid.UUID(answer.text))
        assert requests.get(url + ref, timeout=30).content == data
    finally:
        stop(server)
    assert "Traceback" not in log.read_text(), log.read_text()
