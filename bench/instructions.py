"""`make bench-instructions`: the instructions each GET costs, counted by valgrind.

CPU time on a shared machine moves by tens of percent from run to run; the count of
executed instructions does not. Each path (the bare Flask app's ``send_file``,
ProgImage's original and cached variant, as in bench/per_request.py) runs under
callgrind twice in a fresh process, once with no measured calls and once with
CALLS, after the same warm-up: the difference over CALLS is the instructions per
request, the start-up and the warm-up cancelling out. ``PYTHONHASHSEED`` is fixed
so that both runs hash alike. Needs valgrind (Debian package ``valgrind``); each
path takes about a minute.
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

CALLS = int(os.environ.get("BENCH_CALLS", "400"))
WARM_UP = 50
PATHS = ("bare", "original", "variant")
NAMES = {"bare": "bare Flask: send_file", "original": "GET original",
         "variant": "GET cached variant (WebP, w=256)"}


def serve(kind: str, calls: int) -> None:
    """Answer ``calls`` GETs of the ``kind`` path after the warm-up, in process."""
    import bare_app
    from per_request import caller, quiet_access_log
    from progimage.config import Settings
    from progimage.web import create_app
    from run import photo

    folder = Path(tempfile.mkdtemp(prefix="progimage-instructions-"))
    data = photo(120, 80)
    original = folder / "original.jpg"
    original.write_bytes(data)
    os.environ["BENCH_FILE"] = str(original)
    if kind == "bare":
        call = caller(bare_app.create_app(), "/file")
    else:
        app = create_app(Settings(storage=str(folder / "data")))
        quiet_access_log()
        client = app.test_client()
        ref = client.put("/storage/", data=data,
                         content_type="image/jpeg").get_data(as_text=True)
        path = f"/storage/{ref}" if kind == "original" else f"/storage/{ref}.webp?w=256"
        assert client.get(path).status_code == 200
        call = caller(app, path)
    for _ in range(WARM_UP + calls):
        call()
    os._exit(0)  # no clean-up counted (the converters are not valgrind's)


def instructions(kind: str, calls: int) -> int:
    """Instructions callgrind counts for a process answering ``calls`` GETs."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, __file__, kind, str(calls)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    output = subprocess.run(command, capture_output=True, text=True, env=env,
                            check=True).stderr
    return int(re.search(r"Collected : (\d+)", output).group(1))


def main() -> None:
    """Print instructions per request of each path, and the bare app's share."""
    per_request = {kind: (instructions(kind, CALLS) - instructions(kind, 0)) / CALLS
                   for kind in PATHS}
    print(f"callgrind, {CALLS} calls after {WARM_UP} of warm-up\n")
    print("| path | instructions per request | bare / this |\n|---|---:|---:|")
    for kind, count in per_request.items():
        print(f"| {NAMES[kind]} | {count:,.0f} | {per_request['bare'] / count:.2f} |")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        serve(sys.argv[1], int(sys.argv[2]))
    else:
        main()
