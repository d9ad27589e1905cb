"""Optional API keys: who may upload (and, if configured, read) images.

With ``PROGIMAGE_API_KEYS`` unset the API is open. With keys set, views decorated
with ``writers_only`` need ``Authorization: Bearer <key>``; views decorated with
``readers_only`` need it too when ``PROGIMAGE_PRIVATE_READS=1``.
"""

import functools
import hmac
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import request

from ..exceptions import MissingCredentials, WrongCredentials
from . import get_service

P = ParamSpec("P")
R = TypeVar("R")


def writers_only(view: Callable[P, R]) -> Callable[P, R]:
    """Let the view run only for a request with a valid key, when keys are set."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        check_key(private=True)
        return view(*args, **kwargs)

    return guarded


def readers_only(view: Callable[P, R]) -> Callable[P, R]:
    """Let the view run for anyone, unless reads are private (then like writers)."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        check_reader()
        return view(*args, **kwargs)

    return guarded


def check_reader() -> None:
    """Check the request's key if reads are private, for a view that reveals an
    image only in some of its answers.

    :raises MissingCredentials: reads are private and the request carries no key.
    :raises WrongCredentials: the key is not one of the configured keys.
    """
    check_key(private=get_service().settings.private_reads)


def check_key(private: bool) -> None:
    """Check the request's bearer key against the configured keys.

    :raises MissingCredentials: keys are required and the request carries none.
    :raises WrongCredentials: the key is not one of the configured keys.
    """
    keys = get_service().settings.keys
    if not (private and keys):
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise MissingCredentials(
            "this needs an API key: send 'Authorization: Bearer <key>'"
        )
    if not _known(given.strip(), keys):
        raise WrongCredentials("the API key is not valid")


def is_known_key(given: str) -> bool:
    """``given`` is one of the configured API keys (none are: False)."""
    keys = get_service().settings.keys
    return bool(given and keys) and _known(given, keys)


def _known(given: str, keys: tuple[str, ...]) -> bool:
    """Compare against every key in constant time, so timing tells nothing."""
    given_bytes = given.encode()
    matches = [hmac.compare_digest(given_bytes, key.encode()) for key in keys]
    return any(matches)
