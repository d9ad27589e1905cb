"""Converter processes: reused, replaced when they die or overrun, stopped on close."""

import os
import signal
import threading

import pytest

from helpers import PATIENCE, decode, hold_converter, make_image, wait_until
from progimage.exceptions import (
    ConversionFailed, ConversionOverran, ConversionTimedOut, UnsupportedImage,
)
from progimage.imaging.formats import FormatRegistry
from progimage.imaging.jobs import ConvertJob
from progimage.pool import ConverterPool

REGISTRY = FormatRegistry.from_pillow()
WEBP = REGISTRY.for_name("WEBP")


@pytest.fixture(name="pool")
def _pool():
    """A pool of one converter with a 0.5 s limit, started afresh (these tests kill
    converters, and a killed converter takes its coverage data with it)."""
    pool = ConverterPool(size=1, timeout=0.5)
    yield pool
    pool.close()


def convert(pool: ConverterPool, data: bytes, target=WEBP) -> bytes:
    """Convert through the pool with the registry and a generous pixel limit."""
    return pool.convert(data, ConvertJob(target, REGISTRY, 50_000_000))


def running_pids(pool: ConverterPool) -> set[int]:
    """The process ids of the pool's converters."""
    return {worker.process.pid for worker in pool._running}


def test_one_process_serves_many_conversions(pool):
    """Conversions reuse the converter process instead of starting one each."""
    convert(pool, make_image())
    first = running_pids(pool)
    for _ in range(3):
        assert convert(pool, make_image()).startswith(b"RIFF")
    assert running_pids(pool) == first


def test_domain_errors_come_back_as_raised(pool):
    """An error of the converter reaches the caller as the same domain error."""
    with pytest.raises(UnsupportedImage):
        convert(pool, b"not an image")


def test_a_dead_converter_is_replaced(pool):
    """If the converter process dies (OOM killer), that request fails with 422
    and the next one gets a fresh process."""
    convert(pool, make_image())
    [pid] = running_pids(pool)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ConversionFailed):
        convert(pool, make_image())
    assert convert(pool, make_image()).startswith(b"RIFF")
    assert running_pids(pool) and pid not in running_pids(pool)


def test_busy_converters_answer_timed_out(pool):
    """When every converter stays busy past the limit, the request is refused; that
    is told apart from the job that overran (an upload check answers 422 for it).
    The busy converter is a stand-in held until the refusal is seen: no encode has
    to be slower than the limit on this machine."""
    held = hold_converter(pool)
    outcome = []
    thread = threading.Thread(
        target=lambda: outcome.append(_catch(convert, pool, make_image()))
    )
    thread.start()
    wait_until(held.started.is_set, "the first conversion")
    with pytest.raises(ConversionTimedOut) as busy:
        convert(pool, make_image())
    held.release.set()
    thread.join(PATIENCE)
    assert not isinstance(busy.value, ConversionOverran)
    assert isinstance(outcome[0], ConversionOverran)
    assert held.stopped


def test_a_closed_pool_stops_its_converters(pool):
    """Closing a pool ends its converter processes: none is kept for another app."""
    convert(pool, make_image())
    (worker,) = pool._running
    pool.close()
    assert worker.process.poll() is not None
    assert running_pids(pool) == set()


def test_a_closed_pool_works_again(pool):
    """Using a pool after close starts a converter again."""
    convert(pool, make_image())
    pool.close()
    assert convert(pool, make_image()).startswith(b"RIFF")


def _catch(function, *args):
    try:
        return function(*args)
    except Exception as error:  # the outcome is checked by the test
        return error


def test_an_idle_converter_exits_and_a_new_one_comes_for_the_next_job():
    """PROGIMAGE_CONVERT_IDLE: unused that long, a converter process goes away (its
    memory with it); the next conversion starts another and succeeds."""
    pool = ConverterPool(size=1, timeout=30, idle=0.2)
    try:
        assert decode(convert(pool, make_image("PNG", (8, 6)))).size == (8, 6)
        (first,) = running_pids(pool)
        wait_until(lambda: not running_pids(pool), "the idle converter to stop")
        wait_until(lambda: not os.path.exists(f"/proc/{first}"),
                   "the idle converter's process to be gone")
        assert decode(convert(pool, make_image("PNG", (5, 4)))).size == (5, 4)
        assert running_pids(pool) and running_pids(pool) != {first}
    finally:
        pool.close()


def test_a_busy_converter_is_not_retired(pool):
    """Only converters waiting in the free slots are retired: one at work (taken
    from its slot, as a conversion takes it) is not, however long since its last job."""
    convert(pool, make_image())
    (pid,) = running_pids(pool)
    at_work = pool._free.get_nowait()
    pool.retire_idle(0)
    assert running_pids(pool) == {pid}
    pool._free.put(at_work)
    assert convert(pool, make_image()).startswith(b"RIFF")
    assert running_pids(pool) == {pid}
