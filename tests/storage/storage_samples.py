"""What the storage tests store: a record, and an upload that breaks midway."""

import io

from progimage.storage import ImageRecord

RECORD = ImageRecord(
    format="PNG", mime="image/png", width=3, height=2, frames=1, mode="RGB",
    size=3, sha256="ab" * 32, created="2026-01-01T00:00:00+00:00",
)


class FailingStream(io.RawIOBase):
    """A readable stream that breaks after some bytes, like a dropped connection."""

    def __init__(self):
        self.sent = False

    def readable(self):
        return True

    def read(self, size=-1):
        if self.sent:
            raise OSError("connection reset")
        self.sent = True
        return b"partial"
