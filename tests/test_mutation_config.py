"""`make mutate` keeps covering the modules issue 15 names, with tests that exist."""

from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Where a silent regression costs most (issue 15); written here, not read from
# setup.cfg.
GUARDED = {
    "src/progimage/web/errors.py",
    "src/progimage/options.py",
    "src/progimage/variants.py",
    "src/progimage/web/conditional.py",
    "src/progimage/storage/filesystem.py",
    "src/progimage/web/auth.py",
}


def _mutmut_list(key: str) -> list[str]:
    config = ConfigParser()
    config.read(ROOT / "setup.cfg")
    return [line.strip() for line in config.get("mutmut", key).splitlines() if line]


def test_every_guarded_module_is_mutated():
    assert GUARDED <= set(_mutmut_list("only_mutate"))


def test_every_mutated_module_exists():
    """A moved module would leave mutmut nothing to mutate, and a green run."""
    mutated = _mutmut_list("only_mutate")
    missing = [path for path in mutated if not (ROOT / path).is_file()]
    assert missing == []


def test_every_selected_test_file_exists():
    """A renamed test file would silently leave its module's mutants alive."""
    selection = _mutmut_list("pytest_add_cli_args_test_selection")
    missing = [path for path in selection if not (ROOT / path).is_file()]
    assert missing == []
