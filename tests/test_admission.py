"""Admission to conversions: a bounded queue, refusals at once, one deadline.

Converters here are stand-ins that block until the test lets them go, and the clock
is the test's own: nothing depends on how fast a real encoder is.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import pytest
import requests

from helpers import (
    PATIENCE, SLOW_CONVERSION, SLOW_ENCODER, make_image, slow_png, upload, wait_until,
)
from live_servers import Gunicorn
from progimage import admission, create_app
from progimage.admission import Admission
from progimage.config import Settings
from progimage.exceptions import ConversionTimedOut, ConvertersBusy
from progimage.pool import ConverterPool

# What the stand-in converters are asked to do: they only echo the bytes.
CONVERSION = None


class Clock:
    """A ``time.monotonic`` that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        """The current time."""
        return self.now


class BlockingConverter:
    """A converter stand-in: each job waits until ``release`` is set (or the job's
    timeout passes, as a real one is killed then), and records its timeout."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.timeouts: list[float] = []

    def run(self, job: tuple[bytes | BinaryIO, object], timeout: float) -> bytes:
        """Answer ``job``'s bytes (or the file's) once released.

        :raises TimeoutError: not released within ``timeout`` s.
        """
        self.timeouts.append(timeout)
        self.started.set()
        if not self.release.wait(min(timeout, PATIENCE)):
            raise TimeoutError
        data = job[0]
        return data if isinstance(data, bytes) else data.read()

    def stop(self, grace: float = 0) -> None:
        """Nothing to stop."""


def in_thread(function: Callable[[], object]) -> tuple[threading.Thread, list]:
    """Run ``function`` in a started thread; its result or error lands in the list."""
    outcome: list = []

    def target() -> None:
        try:
            outcome.append(function())
        except Exception as error:  # the test checks what came out
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def blocking_pool(converter: BlockingConverter, waiting: int, timeout: float = 30):
    """A pool of one converter (the stand-in) with ``waiting`` places in its queue."""
    pool = ConverterPool(size=1, timeout=timeout, waiting=waiting)
    pool._free.get_nowait()
    pool._free.put(converter)
    return pool


def hold(gate: Admission, release: threading.Event) -> threading.Thread:
    """A thread that enters ``gate`` and stays inside until ``release`` is set."""
    def inside() -> None:
        with gate.admit():
            release.wait(PATIENCE)

    thread, _ = in_thread(inside)
    return thread


def test_callers_beyond_capacity_are_refused_at_once():
    """With every place taken, the next caller is refused without waiting, and let in
    as soon as a place is free again."""
    gate, release = Admission(capacity=2, timeout=30), threading.Event()
    holders = [hold(gate, release) for _ in range(2)]
    wait_until(lambda: gate.inside == 2)
    with pytest.raises(ConvertersBusy, match="2 conversions"):
        with gate.admit():
            pass
    release.set()
    for thread in holders:
        thread.join(PATIENCE)
    with gate.admit():
        assert gate.inside == 1


def test_an_upload_check_waits_for_a_place_instead_of_being_refused():
    """Upload checks take milliseconds and their body is in already: with every
    place taken, one waits for a place (a conversion would be refused)."""
    gate, release = Admission(capacity=1, timeout=30), threading.Event()
    holder = hold(gate, release)
    wait_until(lambda: gate.inside == 1)
    entered = threading.Event()

    def check() -> None:
        with gate.admit(wait=True):
            entered.set()

    waiter, outcome = in_thread(check)
    assert not entered.wait(0.2)
    release.set()
    waiter.join(PATIENCE)
    holder.join(PATIENCE)
    assert entered.is_set() and outcome == [None]


def test_an_upload_check_that_finds_no_place_in_time_times_out():
    """The wait for a place counts toward the limit: none free by then is a 503."""
    gate, release = Admission(capacity=1, timeout=0.3), threading.Event()
    holder = hold(gate, release)
    wait_until(lambda: gate.inside == 1)
    with pytest.raises(ConversionTimedOut, match="no converter came free"):
        with gate.admit(wait=True):
            pass
    release.set()
    holder.join(PATIENCE)


def test_a_thread_inside_already_keeps_its_place_and_deadline():
    """A nested admission (the variant lock, then the converter) takes no second
    place and no new deadline."""
    clock = Clock()
    gate = Admission(capacity=1, timeout=30)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(admission, "time", clock)
        with gate.admit() as outer:
            clock.now += 20
            with gate.admit() as inner:
                assert inner == outer == 1030.0
                assert gate.inside == 1


def test_a_queue_past_its_length_answers_busy_at_once():
    """One converter busy and one request waiting for it: with a queue of one, a
    third request is refused at once, not after the time limit."""
    converter = BlockingConverter()
    pool = blocking_pool(converter, waiting=1)
    running, _ = in_thread(lambda: pool.convert(b"first", CONVERSION))
    assert converter.started.wait(PATIENCE)
    waiting, waited = in_thread(lambda: pool.convert(b"second", CONVERSION))
    wait_until(lambda: pool.admission.inside == 2)
    with pytest.raises(ConvertersBusy):
        pool.convert(b"third", CONVERSION)
    converter.release.set()
    running.join(PATIENCE)
    waiting.join(PATIENCE)
    assert waited == [b"second"]


def queued_for(waited: float, monkeypatch) -> tuple[BlockingConverter, object]:
    """The converter stand-in and what the second of two conversions came to, when
    it waited ``waited`` s (by the test's clock, of a 30 s limit) for the first."""
    clock = Clock()
    monkeypatch.setattr(admission, "time", clock)
    converter = BlockingConverter()
    pool = blocking_pool(converter, waiting=1, timeout=30)
    running, _ = in_thread(lambda: pool.convert(b"first", CONVERSION))
    assert converter.started.wait(PATIENCE)
    waiting, outcome = in_thread(lambda: pool.convert(b"second", CONVERSION))
    wait_until(lambda: pool.admission.inside == 2)
    clock.now += waited
    converter.release.set()
    running.join(PATIENCE)
    waiting.join(PATIENCE)
    return converter, outcome[0]


def test_waiting_for_a_converter_counts_toward_the_limit(monkeypatch):
    """A request that waited 25 s of a 30 s limit for the converter gets the 5 s left
    to convert, not another 30."""
    converter, outcome = queued_for(25, monkeypatch)
    assert outcome == b"second"
    assert converter.timeouts == [30.0, 5.0]


def test_a_request_past_its_deadline_in_the_queue_answers_timed_out(monkeypatch):
    """A request that reaches the converter after its deadline is not converted."""
    converter, outcome = queued_for(31, monkeypatch)
    assert isinstance(outcome, ConversionTimedOut)
    assert converter.timeouts == [30.0]


@pytest.fixture(name="narrow_app")
def _narrow_app(tmp_path):
    """An app with one converter and no queue, two images stored by its real
    converter, which then makes way for a stand-in that blocks. No idle reaper
    (``convert_idle=0``): minutes later, in another test, it would retire the
    stand-in as if it were a process."""
    app = create_app(Settings(
        storage=str(tmp_path / "data"), convert_workers=1, convert_queue=0,
        convert_idle=0,
    ))
    client = app.test_client()
    refs = [upload(client, make_image()).text for _ in range(2)]
    converter = BlockingConverter()
    pool = app.extensions["progimage"].converters
    pool._free.get_nowait()
    pool._free.put(converter)
    yield app, converter, refs
    converter.release.set()


def test_a_full_queue_answers_503_with_retry_after(narrow_app):
    """While the only converter is busy and nothing may wait, a conversion of another
    image answers 503 problem JSON with Retry-After at once; the original of that
    image, a probe and the busy conversion itself still answer."""
    app, converter, refs = narrow_app
    client = app.test_client()
    busy, outcome = in_thread(lambda: client.get(f"/storage/{refs[0]}.webp"))
    assert converter.started.wait(PATIENCE)
    refused = client.get(f"/storage/{refs[1]}.webp")
    assert refused.status_code == 503
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"] == "5"
    assert "1 conversions are running or waiting" in refused.get_json()["detail"]
    with client.get(f"/storage/{refs[1]}") as original:
        assert original.status_code == 200
    assert client.get("/healthz").status_code == 200
    converter.release.set()
    busy.join(PATIENCE)
    assert outcome[0].status_code == 200


def test_a_body_to_process_is_refused_at_once_when_full(narrow_app):
    """POST /process is a conversion: with no place, its upload check does not wait
    (as an upload's does) but answers 503 with Retry-After at once."""
    app, converter, refs = narrow_app
    client = app.test_client()
    busy, outcome = in_thread(lambda: client.get(f"/storage/{refs[0]}.webp"))
    assert converter.started.wait(PATIENCE)
    refused = client.post("/process.webp", data=make_image(), content_type="image/png")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    converter.release.set()
    busy.join(PATIENCE)
    assert outcome[0].status_code == 200


def test_requests_waiting_for_one_variant_take_places_in_the_queue(narrow_app):
    """A second request for the variant being converted would wait for the variant
    lock, holding a thread: it needs a place too, and is refused without one."""
    app, converter, (ref, _) = narrow_app
    client = app.test_client()
    busy, outcome = in_thread(lambda: client.get(f"/storage/{ref}.webp"))
    assert converter.started.wait(PATIENCE)
    assert client.get(f"/storage/{ref}.webp").status_code == 503
    converter.release.set()
    busy.join(PATIENCE)
    assert outcome[0].status_code == 200


def test_the_queue_length_defaults_to_the_converter_count():
    """PROGIMAGE_CONVERT_QUEUE unset: as many may wait as there are converters."""
    assert Settings.from_env({"PROGIMAGE_CONVERT_WORKERS": "3"}).convert_waiting == 3
    assert Settings.from_env({"PROGIMAGE_CONVERT_QUEUE": "0"}).convert_waiting == 0


# The live storm: a 1 s limit, and more slow conversions at once than two workers let
# in (4 each). An answer may come this much after the limit: the response itself, and
# the start of a converter (up to START_GRACE, 2 s, of it does not count).
LIVE_LIMIT = 1.0
LIVE_MARGIN = 3.5
STORM = 24


def _timed_get(url: str) -> tuple[float, requests.Response]:
    """GET ``url``; the seconds the answer took, and the answer."""
    started = time.monotonic()
    response = requests.get(url, timeout=60)
    return time.monotonic() - started, response


@pytest.mark.serial
@pytest.mark.system
def test_a_storm_of_conversions_is_refused_at_once_and_probes_answer(tmp_path):
    """24 slow conversions at once against gunicorn with the shipped settings: those
    past the queue answer 503 + Retry-After at once, none answers later than the limit
    plus a margin, and /healthz and an original answer in under a second meanwhile."""
    env = {"PROGIMAGE_STORAGE": str(tmp_path / "data"),
           "PROGIMAGE_CONVERT_TIMEOUT": str(LIVE_LIMIT), **SLOW_ENCODER}
    with Gunicorn(tmp_path, env) as server:
        store = f"{server.url}/storage/"
        ref = requests.put(store, files={"data": slow_png()}, timeout=60).text
        urls = [f"{store}{ref}.{SLOW_CONVERSION}&w={2000 + n}" for n in range(STORM)]
        refused = threading.Event()

        def storm(url: str) -> tuple[float, requests.Response]:
            answer = _timed_get(url)
            if answer[1].status_code == 503:
                refused.set()
            return answer

        with ThreadPoolExecutor(STORM) as pool:
            answers = pool.map(storm, urls)
            assert refused.wait(LIVE_LIMIT + LIVE_MARGIN)
            probe, original = _timed_get(f"{server.url}/healthz"), _timed_get(
                f"{store}{ref}")
            answers = list(answers)
    busy = [(took, r) for took, r in answers if r.headers.get("Retry-After") == "5"]
    assert {r.status_code for _, r in answers} <= {200, 503}
    assert busy and all(r.status_code == 503 for _, r in busy)
    assert max(took for took, _ in busy) < LIVE_LIMIT
    assert max(took for took, _ in answers) < LIVE_LIMIT + LIVE_MARGIN
    assert probe[1].status_code == 200 and probe[0] < 1
    assert original[1].status_code == 200 and original[0] < 1
