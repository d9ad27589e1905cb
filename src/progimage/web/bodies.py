"""Raw request bodies, read into a file within the upload limit."""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO, cast

from flask import request

#: Past this, a raw body goes to a temporary file rather than memory.
SPOOL_BYTES = 4 * 1024 * 1024


def is_raw_image() -> bool:
    """The body is the image itself (``Content-Type: image/*``), not a form."""
    return request.mimetype.startswith("image/")


@contextlib.contextmanager
def spooled(stream: BinaryIO) -> Iterator[BinaryIO]:
    """``stream`` copied into a file (memory up to ``SPOOL_BYTES``), rewound.

    :raises RequestEntityTooLarge: the body passes ``MAX_CONTENT_LENGTH``: werkzeug's
        request stream stops reading there, chunked bodies included.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
        shutil.copyfileobj(stream, body)
        body.seek(0)
        yield cast(BinaryIO, body)
