"""What an image reference is: made by the server, checked before any I/O."""

import re
import uuid

from .exceptions import ImageNotFound

# A reference is a UUID4 in canonical form; anything else names nothing stored.
PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
# How much of a bad reference an error repeats: at most a reference's length.
ECHOED = 36


def new_reference() -> str:
    """A fresh reference for an image about to be stored."""
    return str(uuid.uuid4())


def is_reference(text: str) -> bool:
    """``text`` is a reference in canonical form (a path or a filename never is)."""
    return PATTERN.fullmatch(text) is not None


def check_reference(ref: str) -> str:
    """``ref`` itself if it is a reference, checked before any I/O.

    :raises ImageNotFound: it is not, so nothing can be stored under it.
    """
    if not is_reference(ref):
        raise ImageNotFound(f"'{ref[:ECHOED]}' is not an image reference")
    return ref
