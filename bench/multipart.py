"""`make bench-multipart`: the CPU of parsing one multipart upload of the 1 MP photo,
with werkzeug (what Flask's ``request.files`` runs) and with the other maintained
parsers where they are installed, beside copying a raw body (no parse).

Browsers and curl send a new random boundary with every upload; werkzeug compiles
two regular expressions holding the boundary for each one, which Python's pattern
cache saves only when the boundary repeats (as in wrk's script, where every upload
is the same body). Both cases are timed. python-multipart (Starlette's parser) and
streaming-form-data are not dependencies of ProgImage: install them into the
virtualenv to time them (``.venv/bin/pip install python-multipart
streaming-form-data``); rows for parsers that are missing say so.
"""

import io
import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterator

from werkzeug.formparser import MultiPartParser

from progimage.web import bodies
from run import multipart_body, photo

CALLS = int(os.environ.get("BENCH_CALLS", "300"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CHUNK = 64 * 1024


def uploads(data: bytes, fresh: bool) -> Iterator[tuple[str, bytes]]:
    """Endless (boundary, body) pairs: a new boundary for each of 4,000 (more than
    the pattern cache holds), or the same one."""
    boundaries = [f"----WebKitFormBoundary{uuid.uuid4().hex[:16]}"
                  for _ in range(4000 if fresh else 1)]
    return itertools.cycle([(b, multipart_body(data, b)) for b in boundaries])


def werkzeug_parse(boundary: str, sent: bytes) -> bytes:
    _, files = MultiPartParser().parse(io.BytesIO(sent), boundary.encode(), len(sent))
    return files["data"].read()


def python_multipart_parse(boundary: str, sent: bytes) -> bytes:
    import python_multipart

    files = []
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
               "Content-Length": str(len(sent))}
    python_multipart.parse_form(headers, io.BytesIO(sent), lambda field: None,
                                files.append)
    stored = files[0].file_object
    stored.seek(0)
    return stored.read()


def streaming_form_data_parse(boundary: str, sent: bytes) -> bytes:
    from streaming_form_data import StreamingFormDataParser
    from streaming_form_data.targets import ValueTarget

    parser = StreamingFormDataParser(
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    target = ValueTarget()
    parser.register("data", target)
    stream = io.BytesIO(sent)
    while chunk := stream.read(CHUNK):
        parser.data_received(chunk)
    return target.value


def raw_copy(data: bytes) -> bytes:
    """What a raw-body upload does instead: spool the body (web/bodies.py)."""
    with bodies.spooled(io.BytesIO(data)) as body:
        return body.read()


def best_us(action: Callable[[], bytes], expected: int) -> float:
    """CPU µs per call, the best of ``ROUNDS`` rounds of ``CALLS`` calls."""
    assert len(action()) == expected
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(CALLS):
            action()
        best = min(best, (time.process_time() - started) / CALLS * 1e6)
    return best


def main() -> None:
    data = photo(1155, 866)
    print(f"load: {os.getloadavg()[0]:.2f} (1 min); 1155x866 JPEG of "
          f"{len(data) // 1024} KiB; CPU µs per upload, best of {ROUNDS} x {CALLS}\n")
    print("| parse | new boundary each upload | same boundary |")
    print("|---|---:|---:|")
    raw = best_us(lambda: raw_copy(data), len(data))
    print(f"| none (raw body, spooled) | {raw:.0f} | {raw:.0f} |")
    parsers = (("werkzeug", werkzeug_parse),
               ("python-multipart", python_multipart_parse),
               ("streaming-form-data", streaming_form_data_parse))
    for name, parse in parsers:
        try:
            times = [best_us(lambda sent=uploads(data, fresh), parse=parse:
                             parse(*next(sent)),
                             len(data)) for fresh in (True, False)]
        except ImportError:
            print(f"| {name} | not installed | not installed |")
            continue
        print(f"| {name} | {times[0]:.0f} | {times[1]:.0f} |")


if __name__ == "__main__":
    main()
