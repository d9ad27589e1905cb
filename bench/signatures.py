"""`make bench-signatures`: what checking URL signatures costs on a cached variant.

Two gunicorns over one storage folder (so one cached variant): one with signed
reads off, asked the plain URL; one with PROGIMAGE_SIGNED_READS=variants, asked the
signed URL. wrk drives them in turns (ROUNDS rounds of BENCH_SECONDS each, default
3 x 8 s), so that a change in the machine's load falls on both; the medians are
compared. On a shared machine wrk's numbers move by more than the check costs, so
the check is also timed alone, in process: microseconds per verification (against two
keys, as during a rotation), next to the time one cached read takes.
"""

import os
import statistics
import tempfile
import timeit
from pathlib import Path

import requests

from live_servers import Gunicorn
from progimage.client import Client
from progimage.signing import SIG, is_signed, signed_query
from run import WORKERS, photo, upload, wrk

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
KEY = "bench-signing-key"


def measure(folder: Path) -> dict[str, list]:
    """Req/s and p50 of each side, round by round."""
    common = {"PROGIMAGE_STORAGE": str(folder / "data"),
              "PROGIMAGE_SIGNING_KEYS": KEY}
    signed_env = {**common, "PROGIMAGE_SIGNED_READS": "variants"}
    with Gunicorn(folder, common, workers=WORKERS) as plain, \
            Gunicorn(folder, signed_env, workers=WORKERS) as signed:
        ref = upload(plain.url, photo(1155, 866))
        urls = {
            "unsigned URL, signed reads off": (
                f"{plain.url}/storage/{ref}.webp?w=800", plain),
            "signed URL, signed reads on": (
                Client(signed.url, signing_key=KEY).url(ref, "webp", w=800), signed),
        }
        for url, _ in urls.values():  # converted once, then cached for both
            requests.get(url, timeout=120).raise_for_status()
        runs: dict[str, list] = {name: [] for name in urls}
        for _ in range(ROUNDS):
            for name, (url, server) in urls.items():
                runs[name].append(wrk(name, url, server))
    return runs


def check_microseconds() -> float:
    """Microseconds one signature check takes against two keys (the signing key
    second, so both HMACs are computed, as every check does)."""
    path = "/storage/0b6f1c1e-5d8a-4c47-9a5e-6f1d2f6b3c2a.webp"
    query = signed_query(KEY, path, {"w": 800})
    pairs = [tuple(item.split("=", 1)) for item in query.split("&")]
    given = dict(pairs)[SIG]
    keys = ("another-key", KEY)
    assert is_signed(keys, path, pairs, given)
    calls = 20_000
    seconds = min(timeit.repeat(lambda: is_signed(keys, path, pairs, given),
                                number=calls, repeat=5))
    return seconds / calls * 1e6


def main() -> None:
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="progimage-bench-") as folder:
        runs = measure(Path(folder))
    print(f"Load average before/after: {before:.1f} / {os.getloadavg()[0]:.1f}; "
          f"{ROUNDS} rounds, {WORKERS} workers\n")
    print("| scenario | req/s (median) | each round | p50 ms (median) | non-2xx |")
    print("|---|---:|---|---:|---:|")
    medians = {}
    for name, results in runs.items():
        medians[name] = statistics.median(result.rps for result in results)
        rounds = ", ".join(f"{result.rps:,.0f}" for result in results)
        p50 = statistics.median(result.p50 for result in results)
        errors = sum(result.errors for result in results)
        print(f"| {name} | {medians[name]:,.0f} | {rounds} | {p50:.1f} | {errors} |")
    plain, signed = medians.values()
    print(f"\nsigned / unsigned: {signed / plain:.3f}")
    check = check_microseconds()
    per_read = 1e6 / plain * WORKERS
    print(f"one signature check: {check:.1f} us; one cached read: {per_read:,.0f} us "
          f"of a worker at the unsigned rate ({check / per_read:.2%})")


if __name__ == "__main__":
    main()
