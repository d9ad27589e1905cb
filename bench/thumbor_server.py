"""thumbor, the Pillow-based image server the issue compares with, for `make bench`.

The Makefile installs it into a virtualenv of its own (.tools/thumbor: it pins its own
Pillow); THUMBOR names another binary. Without one, the thumbor rows are skipped.
"""

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from live_servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = ROOT / ".tools" / "thumbor" / "bin" / "thumbor"
BINARY = Path(os.environ.get("THUMBOR", INSTALLED))
# Images come from a folder; no source storage, so that every request loads and
# converts. Result storage (thumbor's cache of converted images) only when asked.
CONFIG = """
LOADER = 'thumbor.loaders.file_loader'
FILE_LOADER_ROOT_PATH = '{images}'
STORAGE = 'thumbor.storages.no_storage'
ALLOW_UNSAFE_URL = True
"""
RESULT_STORAGE = """
RESULT_STORAGE = 'thumbor.result_storages.file_storage'
RESULT_STORAGE_FILE_STORAGE_ROOT_PATH = '{folder}/results'
RESULT_STORAGE_STORES_UNSAFE = True
"""


def available() -> bool:
    """Whether a thumbor binary is there to run."""
    return BINARY.exists()


@contextlib.contextmanager
def thumbor(
    folder: Path, images: Path, processes: int, result_storage: bool = False
) -> Iterator[tuple[str, int]]:
    """Run thumbor with ``processes`` processes on the files in ``images``; yield
    its URL and the pid of its first process (the parent of the others)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = CONFIG.format(images=images)
    if result_storage:
        config += RESULT_STORAGE.format(folder=folder)
    (folder / "thumbor.conf").write_text(config)
    port = free_port()
    log = folder / "thumbor.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(BINARY), f"--port={port}", "--ip=127.0.0.1",
             f"--conf={folder / 'thumbor.conf'}", f"--processes={processes}"],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_for_port(process, port, log)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        # The forked processes go with their parent: they share its group.
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
