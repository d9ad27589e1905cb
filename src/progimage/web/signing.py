"""Signed reads: check a request's ``sig`` and ``exp`` before it may read or convert.

``PROGIMAGE_SIGNED_READS=variants`` asks a signature of conversions only (the original
stays open), ``all`` of every read, ``off`` of none; ``sig`` and ``exp`` are taken
out of the query either way, so they never reach the options or the variant key.
"""

import time

from flask import request

from ..exceptions import (
    ExpiredSignature, InvalidOptions, MissingSignature, WrongSignature,
)
from ..signing import EXP, SIG, is_signed
from . import get_service

PRESET = "preset"


def checked_query(
    path: str, conversion: bool, query: dict[str, list[str]] | None = None,
    preset_exempt: bool = True,
) -> dict[str, list[str]]:
    """The request's query (or ``query``, a bulk entry's) without ``sig`` and
    ``exp``, once its signature is checked where the settings ask for one;
    ``conversion``: the read converts; ``preset_exempt``: PROGIMAGE_UNSIGNED_PRESETS
    may spare it the signature.

    :raises MissingSignature: a signature is needed and the query has no ``sig``.
    :raises WrongSignature: ``sig`` signs something else, or under no known key.
    :raises ExpiredSignature: the signature is right but ``exp`` has passed.
    :raises InvalidOptions: ``exp`` is not a whole number of Unix seconds.
    """
    if query is None:
        query = request.args.to_dict(flat=False) if request.query_string else {}
    options = {name: values for name, values in query.items()
               if name not in (SIG, EXP)}
    if _needs_signature(options, conversion or bool(options), preset_exempt):
        _check(path, query)
    return options


def expires() -> int | None:
    """The request's ``exp`` (already checked when it mattered), or None."""
    given = request.args.get(EXP, "") if request.query_string else ""
    return int(given) if given.isdigit() else None


def _needs_signature(
    options: dict[str, list[str]], conversion: bool, preset_exempt: bool
) -> bool:
    settings = get_service().settings
    if settings.signed_reads == "off":
        return False
    if preset_exempt and settings.unsigned_presets and set(options) == {PRESET}:
        return False
    return settings.signed_reads == "all" or conversion


def _check(path: str, query: dict[str, list[str]]) -> None:
    """:raises ServiceError: see ``checked_query``."""
    given = query.get(SIG, [])
    if not given:
        raise MissingSignature(
            "this URL needs a signature (?sig=): ask the site that gave you the "
            "image for a signed link"
        )
    exp = query.get(EXP, [])
    if len(exp) > 1 or (exp and not exp[0].isdigit()):
        raise InvalidOptions("parameter 'exp' must be given once, in Unix seconds")
    pairs = [(name, value) for name, values in query.items() for value in values]
    keys = get_service().settings.signature_keys
    if len(given) > 1 or not is_signed(keys, path, pairs, given[0]):
        raise WrongSignature(
            "the signature (?sig=) does not match this URL: it was altered, or "
            "signed with a key that is no longer configured"
        )
    if exp and int(exp[0]) < time.time():
        raise ExpiredSignature(
            f"this signed URL expired at {exp[0]} (Unix time); ask for a new one"
        )
