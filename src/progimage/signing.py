"""Signed image URLs: the one signing function, shared by the server and the signers.

A signature is HMAC-SHA256, keyed with a signing key, over the message

    <path>?<query>

where ``path`` is the path the server routes (``/storage/<ref>.<ext>``, or
``/storage/<ref>`` for the original), and ``query`` is every query parameter but
``sig`` (``exp`` included), each written ``name=value`` with both percent-encoded
as UTF-8 (every byte but ``A-Z a-z 0-9 - _ . ~`` as ``%XX``, upper case), sorted as
ASCII strings and joined by ``&``. ``sig`` is the digest in URL-safe base64 without
padding. The message is the query as sent, not the normalised options: a signer in
any language can build it without knowing what ``dpr`` or ``rotate`` normalise to.
"""

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote

#: The query parameters a signed URL adds; neither is an image option.
SIG = "sig"
EXP = "exp"


def canonical(path: str, pairs: Iterable[tuple[str, str]]) -> str:
    """The message that is signed: ``path``, ``?`` and the sorted, encoded query of
    ``pairs`` (name, value), leaving out ``sig``."""
    query = sorted(
        f"{_encode(name)}={_encode(value)}" for name, value in pairs if name != SIG
    )
    return f"{path}?{'&'.join(query)}"


def signature(key: str, path: str, pairs: Iterable[tuple[str, str]]) -> str:
    """``sig`` for a request of ``path`` with the query ``pairs``, under ``key``."""
    return _sign(key, canonical(path, pairs).encode()).decode()


def is_signed(keys: Iterable[str], path: str, pairs: list[tuple[str, str]],
              given: str) -> bool:
    """Whether ``given`` is the signature under any of ``keys``, compared in constant
    time against every key, so that timing tells nothing."""
    # The message is built once: most of a check's time, more than the HMACs.
    message = canonical(path, pairs).encode()
    matches = [hmac.compare_digest(_sign(key, message), given.encode())
               for key in keys]
    return any(matches)


def _sign(key: str, message: bytes) -> bytes:
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=")


def signed_query(key: str, path: str, options: Mapping[str, object],
                 expires: int | None = None) -> str:
    """The query string of a signed URL for ``path`` with ``options`` (a flag set
    to True is sent as 1), valid until the Unix time ``expires`` if given.

    :raises ValueError: ``key`` is empty.
    """
    if not key:
        raise ValueError("a signing key is needed to sign URLs")
    pairs = [(name, _text(value)) for name, value in options.items()]
    if expires is not None:
        pairs.append((EXP, str(int(expires))))
    pairs.append((SIG, signature(key, path, pairs)))
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in pairs)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _encode(text: str) -> str:
    # quote() always keeps A-Z a-z 0-9 and "-_.~"; with safe="" nothing else.
    return quote(text, safe="")
