"""The folders are the layers: which library each side of the code may load."""

import subprocess
import sys

import pytest

# Imports the modules (with ``deep``, every module of each package), then prints the
# libraries that got loaded.
LOADED = """
import importlib, pkgutil, sys
for name in {modules!r}:
    module = importlib.import_module(name)
    for found in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if {deep}:
            importlib.import_module(f"{{name}}.{{found.name}}")
print(" ".join(sorted({{"flask", "PIL"}} & set(sys.modules))))
"""


def loaded(*modules: str, deep: bool = True) -> set[str]:
    """The libraries among Flask and Pillow that importing ``modules`` loads."""
    code = LOADED.format(modules=modules, deep=deep)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        timeout=60,
    )
    return set(result.stdout.split())


@pytest.mark.parametrize("modules, allowed", [
    pytest.param(("progimage.service", "progimage.pool"), set(), id="service"),
    pytest.param(("progimage.web",), {"flask"}, id="web"),
    pytest.param(("progimage.storage",), set(), id="storage"),
    pytest.param(("progimage.cli", "progimage.client"), set(), id="cli"),
])
def test_a_layer_loads_only_its_own_libraries(modules, allowed):
    """The service, the pool and storage load neither Flask nor Pillow, the web side
    never Pillow: a registry is built by the app factory, decoding happens in the
    converter processes."""
    assert loaded(*modules) == allowed


def test_the_imaging_surface_loads_no_pillow():
    """The job types and the registry the server side holds come without Pillow."""
    assert loaded("progimage.imaging", deep=False) == set()


def test_the_imaging_side_never_loads_flask():
    """A converter process imports every imaging module and no Flask."""
    assert loaded("progimage.imaging", "progimage.imaging.worker") == {"PIL"}
