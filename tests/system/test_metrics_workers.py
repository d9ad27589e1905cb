"""Metrics under a real gunicorn: workers that die (kill -9) leave no files behind,
and /metrics still adds up every request they answered."""

import os
import signal
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import PATIENCE
from live_servers import Gunicorn

pytestmark = pytest.mark.system

HEALTHZ = (("method", "GET"), ("route", "/healthz"), ("status", "200"))


def healthz_count(url: str) -> float:
    """How many GET /healthz the instance has answered, as /metrics says."""
    text = requests.get(f"{url}/metrics", timeout=30).text
    return sum(
        sample.value for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "progimage_http_requests_total"
        and tuple(sorted(sample.labels.items())) == HEALTHZ
    )


def files_of(folder, pid: int) -> list[str]:
    """The metrics files named after the process ``pid``."""
    return [name for name in os.listdir(folder) if name.endswith(f"_{pid}.db")]


def kill_a_worker(server: Gunicorn, folder) -> int:
    """kill -9 one worker; return its pid once gunicorn has replaced it and its
    files are gone (or fail after 30 s)."""
    victim = server.workers()[0]
    assert files_of(folder, victim), "the worker wrote no metrics file"
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = server.workers()
        if victim not in workers and len(workers) == 2 and not files_of(folder, victim):
            return victim
        time.sleep(0.05)
    raise AssertionError(f"after 30 s: {sorted(os.listdir(folder))}")


def test_killed_workers_leave_no_metrics_files(tmp_path):
    """Two workers killed in turn: their files are folded into the archive and
    removed; /metrics counts every request before and after."""
    folder = tmp_path / "metrics"
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data"),
           "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with Gunicorn(tmp_path, env, workers=2) as server:
        sent = 0
        deadline = time.monotonic() + PATIENCE
        # At least 20, until both workers answered some (their access log lines
        # say which): one worker answering everything would prove no adding up.
        while sent < 20 or len(server.served_by("GET /healthz")) < 2:
            assert time.monotonic() < deadline, "one worker answered every request"
            # A new connection each time, so that both workers answer some.
            requests.get(f"{server.url}/healthz", timeout=30,
                         headers={"Connection": "close"}).close()
            sent += 1
        assert healthz_count(server.url) == sent
        dead = [kill_a_worker(server, folder) for _ in range(2)]
        assert healthz_count(server.url) == sent
        requests.get(f"{server.url}/healthz", timeout=30).close()
        assert healthz_count(server.url) == sent + 1
        names = set(os.listdir(folder))
    assert {"counter_archive.db", "histogram_archive.db"} <= names
    assert not [name for name in names for pid in dead if str(pid) in name]


def test_folder_of_a_killed_master_goes_at_the_next_start(tmp_path):
    """A master killed with -9 cannot remove its metrics folder; the next start
    on the machine does, and keeps its own."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data"), "TMPDIR": str(temp)}
    first = Gunicorn(tmp_path, env, workers=1).start()
    first.kill()
    [orphan] = temp.glob("progimage-metrics-*")
    with Gunicorn(tmp_path, env, workers=1) as second:
        assert healthz_count(second.url) == 0
        [own] = temp.glob("progimage-metrics-*")
    assert own != orphan
    assert not orphan.exists()
