"""`make bench-sources`: the rows of bench/run.py for images from anywhere alone.

``POST /process.webp?w=256`` of a raw 1 MP JPEG beside the same conversion of the
stored image with the cache off (every GET converts), then the RSS of a lone worker
at rest and at its peak while it streams a bulk ZIP of 500 cached variants.
"""

import os
import tempfile
from pathlib import Path

from live_servers import Gunicorn
from run import WORKERS, bulk_memory_rows, photo, process_rows, table, upload


def main() -> None:
    """Run the rows in a temporary folder; print them with the machine's load."""
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="progimage-bench-") as name:
        folder = Path(name)
        small = photo(1155, 866)
        env = {"PROGIMAGE_STORAGE": str(folder / "data"),
               "PROGIMAGE_CACHE_MAX_BYTES": "0"}
        with Gunicorn(folder, env, workers=WORKERS) as server:
            results = process_rows(server, upload(server.url, small), small, folder)
        results += bulk_memory_rows(folder)
    print(f"{WORKERS} gunicorn workers (the bulk rows: 1); load average (1 min) "
          f"before and after: {before:.1f} / {os.getloadavg()[0]:.1f}\n")
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
