"""The shipped deploy/ settings against real servers: instances that share a host,
and slow clients in front of nginx."""

import socket
import stat
from pathlib import Path

import pytest
from live_servers import Gunicorn

pytestmark = pytest.mark.integration


def _sockets(folder: Path) -> set[Path]:
    """The Unix sockets anywhere under ``folder``."""
    return {path for path in folder.rglob("*") if stat.S_ISSOCK(path.lstat().st_mode)}


def _answers(path: Path) -> bool:
    """Whether a server listens on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX) as client:
        return client.connect_ex(str(path)) == 0


def _host(tmp_path: Path) -> dict[str, str]:
    """The environment of a host whose home and runtime folders are under tmp_path:
    gunicorn's default control socket would land there."""
    (tmp_path / "home").mkdir()
    (tmp_path / "run").mkdir()
    return {"PROGIMAGE_STORAGE": str(tmp_path / "data"),
            "HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}


def test_stopping_one_instance_leaves_the_others_control_socket(tmp_path):
    """Two instances on one host with the shipped settings: stopping the second
    leaves the first one's control socket, if it has one, where it was and listening."""
    env = _host(tmp_path)
    with Gunicorn(tmp_path, env, workers=1):
        firsts = _sockets(tmp_path)
        with Gunicorn(tmp_path, env, workers=1):
            pass
        assert all(_answers(path) for path in firsts), firsts


def test_a_control_socket_is_per_instance_when_asked_for(tmp_path):
    """GUNICORN_CONTROL_SOCKET gives an instance a socket of its own, which the other
    instance neither takes nor removes."""
    env = _host(tmp_path)
    first, second = tmp_path / "first.ctl", tmp_path / "second.ctl"
    with Gunicorn(tmp_path, {**env, "GUNICORN_CONTROL_SOCKET": str(first)}, workers=1):
        with Gunicorn(
            tmp_path, {**env, "GUNICORN_CONTROL_SOCKET": str(second)}, workers=1
        ):
            assert _answers(second)
        assert _answers(first)
        assert not second.exists()
