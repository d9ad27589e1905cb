"""`make bench`'s report: refused answers are not throughput, and a ratio over them
is marked invalid instead of printed."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
run = pytest.importorskip("run")

# wrk's report of a 2 s run in which 3,000 of 3,416 answers were 503s.
REFUSED = """Running 2s test @ http://127.0.0.1:5000/storage/x.webp
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.35ms    4.11ms  40.02ms   70.23%
    Req/Sec   858.09    112.19     1.05k    70.00%
  Latency Distribution
     50%    8.77ms
     75%   11.21ms
     90%   14.48ms
     99%    1.20s
  3416 requests in 2.00s, 2.65MB read
  Non-2xx or 3xx responses: 3000
Requests/sec:   1708.00
Transfer/sec:      1.32MB
"""
ALL_SERVED = REFUSED.replace("  Non-2xx or 3xx responses: 3000\n", "").replace(
    "3416 requests in 2.00s", "84 requests in 1.00m")


def test_only_answers_served_count_per_second():
    result = run.parse_wrk("cold", REFUSED)
    assert (result.rps, result.errors) == (208.0, 3000)
    assert (result.p50, result.p99) == (8.77, 1200.0)


def test_answers_per_second_over_a_run_in_minutes():
    result = run.parse_wrk("cold", ALL_SERVED)
    assert (result.rps, result.errors) == (1.4, 0)


def test_a_ratio_over_refused_answers_is_invalid():
    results = [run.parse_wrk("cold conversion to webp (cache off)", REFUSED),
               run.Result("thumbor: cold WebP", 104.0, errors=2)]
    [ratio] = run.ratios(results, 2)
    assert ratio.name == "cold conversion to webp (cache off) / thumbor: cold WebP"
    report = run.report(results, {}, 2, "0.5 / 0.7")
    assert ("| cold conversion to webp (cache off) / thumbor: cold WebP | "
            "invalid: 3002 non-2xx | >= 2 | invalid |") in report.splitlines()


def test_a_ratio_of_served_answers_is_printed():
    results = [run.Result("cold conversion to avif (cache off)", 30.0),
               run.Result("cold conversion to webp (cache off)", 40.0)]
    report = run.report(results, {}, 2, "0.5 / 0.7")
    assert ("| cold conversion to avif (cache off) / cold conversion to webp "
            "(cache off) | 0.75 | >= 0.5 | yes |") in report.splitlines()


def test_avif_against_webp_bytes_and_ssim():
    encoded = [run.Encoded("webp", 60_000, 0.91), run.Encoded("avif", 50_000, 0.90)]
    lines = run.quality_table(encoded)
    assert lines[2:4] == ["| .webp | 60,000 | 0.9100 |", "| .avif | 50,000 | 0.9000 |"]
    assert lines[-1] == ("AVIF at no more bytes than WebP (0.83x) and no lower SSIM "
                         "(-0.0100): NO")


def test_a_ratio_without_a_goal_is_printed_as_context():
    results = [run.Result("upload 1 MP JPEG, raw body" + run.SIDE_BY_SIDE, 400.0),
               run.Result(run.BARE_STORE + run.SIDE_BY_SIDE, 1000.0)]
    report = run.report(results, {}, 2, "0.5 / 0.7")
    assert (f"| upload 1 MP JPEG, raw body{run.SIDE_BY_SIDE} / {run.BARE_STORE}"
            f"{run.SIDE_BY_SIDE} | 0.40 | context | - |") in report.splitlines()


def test_the_bare_app_keeps_a_stored_upload_whole(tmp_path, monkeypatch):
    """The bare app's durable upload, the floor of the context ratio: the body kept
    byte for byte under the name it answers, nothing else left in the folder."""
    bare_app = pytest.importorskip("bare_app")
    photo = run.photo(64, 48)
    monkeypatch.setenv("BENCH_FILE", str(tmp_path / "unused.jpg"))
    monkeypatch.setenv("BENCH_STORE", str(tmp_path))
    client = bare_app.create_app().test_client()
    response = client.put("/store", data=photo, content_type="image/jpeg")
    assert response.status_code == 200
    assert [path.name for path in tmp_path.iterdir()] == [response.text]
    assert (tmp_path / response.text).read_bytes() == photo
