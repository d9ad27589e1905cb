"""Per-client rate limits (PROGIMAGE_RATE_LIMIT_*): count, refuse, tell the budget.

A client is its API key when it sends a valid one, else its address (after
PROGIMAGE_TRUSTED_PROXIES). Counts are fixed windows in ``limits``' storage: one
counter per client, kind and limit, which expires with its window (in memory too:
each count starts ``limits``' sweep of expired counters), so the storage holds no
more than the clients seen within the longest window.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from ..config import Settings
from ..exceptions import RateLimited
from .auth import is_known_key

log = logging.getLogger(__name__)

EXTENSION = "progimage.ratelimits"
# Every key this service writes to a shared Redis starts with it.
NAMESPACE = "progimage"
WHAT = {"uploads": "uploads", "conversions": "new conversions", "reads": "reads"}


@dataclass(frozen=True)
class Budget:
    """Where the client stands against one limit after this request."""

    limit: RateLimitItem
    remaining: int
    #: Whole seconds until the window resets (at least 1).
    reset: int


@dataclass(frozen=True)
class RateLimits:
    """One app's limits by kind (uploads, conversions, reads) and their counter."""

    counter: FixedWindowRateLimiter
    limits: dict[str, list[RateLimitItem]]

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimits":
        """The limits the settings ask for, counted where they say; a Redis server
        is not contacted until the first count."""
        storage = storage_from_string(settings.rate_limit_storage, wrap_exceptions=True)
        limits = {kind: parse_many(text) for kind, text in settings.rate_limits.items()}
        return cls(FixedWindowRateLimiter(storage), limits)


def init_app(app: Flask, settings: Settings) -> None:
    """Count with the settings' limits, and tell each answer its budget."""
    app.extensions[EXTENSION] = RateLimits.from_settings(settings)
    app.after_request(_tell_budget)


def count(kind: str) -> None:
    """Count one request of ``kind`` for the requesting client.

    When the storage cannot be reached the request goes through, logged: an
    unreachable Redis must not take every image down with it.

    :raises RateLimited: the client has used up one of its limits for ``kind``.
    """
    rate_limits: RateLimits = current_app.extensions[EXTENSION]
    limits = rate_limits.limits.get(kind)
    if not limits:
        return
    identity = (NAMESPACE, kind, client())
    try:
        for limit in limits:
            allowed = rate_limits.counter.hit(limit, *identity)
            stats = rate_limits.counter.get_window_stats(limit, *identity)
            budget = Budget(limit, stats.remaining,
                            max(1, math.ceil(stats.reset_time - time.time())))
            _keep_tightest(budget, refused=not allowed)
            if not allowed:
                refusal = RateLimited(
                    f"too many {WHAT[kind]}: the limit is {limit.amount} per "
                    f"{_window(limit)}; try again in {budget.reset} s"
                )
                refusal.retry_after = budget.reset
                raise refusal
    except StorageError as error:
        log.warning("rate limit storage unreachable, not limiting: %s", error)


def client() -> str:
    """Who is counted: a digest of a valid API key (never the key itself, which
    a shared Redis would otherwise hold), else the client's address."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and is_known_key(given.strip()):
        return "key:" + hashlib.sha256(given.strip().encode()).hexdigest()[:32]
    return f"address:{request.remote_addr}"


def _window(limit: RateLimitItem) -> str:
    unit = limit.GRANULARITY.name
    return unit if limit.multiples == 1 else f"{limit.multiples} {unit}s"


def _keep_tightest(budget: Budget, refused: bool) -> None:
    """Remember the limit this request is closest to (the one refused, if one
    was): the headers describe that one."""
    kept: Budget | None = g.get("rate_budget")
    if refused or kept is None or budget.remaining < kept.remaining:
        g.rate_budget = budget


def _tell_budget(response: Response) -> Response:
    """``RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (seconds), the three
    fields of draft-ietf-httpapi-ratelimit-headers-07, on any counted answer."""
    budget: Budget | None = g.get("rate_budget")
    if budget is not None:
        response.headers["RateLimit-Limit"] = str(budget.limit.amount)
        response.headers["RateLimit-Remaining"] = str(budget.remaining)
        response.headers["RateLimit-Reset"] = str(budget.reset)
    return response
