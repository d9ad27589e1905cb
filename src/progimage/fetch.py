"""Fetch an image by URL without letting the URL reach into the server's network."""

import fnmatch
import http.client
import ipaddress
import re
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from .config import Settings
from .exceptions import FetchFailed, FetchRefused, FetchTimedOut

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves a host name and port to addresses, as ``socket.getaddrinfo`` would.
Resolver = Callable[[str, int], list[str]]

#: Redirects followed at most, each one checked like the first URL.
MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Answers that may hold an image; anything else declared (HTML, JSON) is refused
#: before its body is read. A missing type is left to the upload check's sniffing.
IMAGE_TYPES = re.compile(r"image/|application/octet-stream|binary/octet-stream")
METADATA = ipaddress.ip_address("169.254.169.254")
# NAT64 prefixes (RFC 6052, RFC 8215): the last 32 bits are an IPv4 address.
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# What inet_aton (and so the system resolver) reads as IPv4: 2130706433, 0x7f.1, 0177.1.
NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")
CHUNK = 64 * 1024


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (one lookup).

    :raises FetchFailed: the name does not resolve.
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchFailed(f"cannot resolve {host!r}: {error}") from None
    return [str(entry[4][0]) for entry in found]


def literal_address(host: str) -> Address | None:
    """``host`` as the address it literally is (``[::1]``, ``127.0.0.1``, and the
    forms the resolver reads as IPv4: ``2130706433``, ``0x7f.1``); None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if NUMERIC_HOST.fullmatch(host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, Teredo)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in prefix for prefix in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: Address) -> str | None:
    """Why a connection to ``address`` is refused by default; None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = refusal(inner)
            return f"{reason}, embedded in {address}" if reason else None
    if address == METADATA:
        return "the cloud metadata address"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for failed, reason in checks if failed), None)


@dataclass(frozen=True)
class Target:
    """One URL checked: where to connect, and the name to speak to there."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass
class Fetched:
    """The image fetched: a spooled file at position 0, and the final URL."""

    file: BinaryIO
    url: str


@dataclass(frozen=True)
class Fetcher:
    """Fetches URLs under the rules of docs/security.md ("Fetching by URL")."""

    #: Largest body kept, in bytes: the upload limit.
    max_bytes: int
    #: Seconds for the whole fetch, redirects included.
    timeout: float = 10.0
    #: Seconds to open each connection.
    connect_timeout: float = 3.0
    #: Host patterns (``*.example.com``, ``10.0.0.0/8``); when any is set, only
    #: matching hosts are fetched, and these may be private.
    allowed_hosts: tuple[str, ...] = ()
    resolver: Resolver = system_resolver
    #: TLS settings; None: the system's trusted roots, names verified.
    tls: ssl.SSLContext | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Fetcher":
        """A fetcher bounded by the upload limit and the ``fetch_*`` settings."""
        return cls(
            max_bytes=settings.max_upload_bytes,
            timeout=settings.fetch_timeout,
            connect_timeout=settings.fetch_connect_timeout,
            allowed_hosts=settings.fetch_hosts,
        )

    def fetch(self, url: str) -> Fetched:
        """The body of ``url`` (after at most MAX_REDIRECTS redirects), spooled.

        :raises FetchRefused: a URL on the way is not http(s) or reaches a refused
            address or host.
        :raises FetchFailed: the remote side cannot be reached, answers an error,
            a non-image type, too many redirects or more than ``max_bytes``.
        :raises FetchTimedOut: connecting or the whole fetch took too long.
        """
        deadline = time.monotonic() + self.timeout
        for _ in range(MAX_REDIRECTS + 1):
            target = self.check(url)
            location = self._get(target, url, deadline)
            if isinstance(location, Fetched):
                return location
            url = location
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")

    def check(self, url: str) -> Target:
        """Where ``url`` may be fetched from, resolving its host once.

        :raises FetchRefused: not http(s), no host, or a refused host or address.
        :raises FetchFailed: the host does not resolve.
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchRefused(f"only http and https URLs are fetched, not {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchRefused(f"the URL {url!r} has a bad port") from None
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise FetchRefused(f"the URL {url!r} names no host")
        literal = literal_address(host)
        named = str(literal) if literal else host
        if self._unlisted(named):
            # Refused before any lookup: nothing about the name leaks to DNS.
            raise FetchRefused(f"{host} is not in PROGIMAGE_FETCH_ALLOWED_HOSTS")
        # One lookup, its first answer: checked here, connected to in _connect.
        found = [str(literal)] if literal else self.resolver(host, port)
        if not found:
            raise FetchFailed(f"{host} has no address")
        address = literal or ipaddress.ip_address(found[0].split("%")[0])
        listed = self._listed(named, address)
        if self.allowed_hosts and not listed:
            raise FetchRefused(f"{host} is not in PROGIMAGE_FETCH_ALLOWED_HOSTS")
        reason = None if listed else refusal(address)
        if reason:
            raise FetchRefused(f"{host} is {reason}; it is not fetched")
        path = parts.path or "/"
        path += f"?{parts.query}" if parts.query else ""
        return Target(parts.scheme, host, port, path, str(address))

    def _unlisted(self, host: str) -> bool:
        """The allowed hosts are names only, and none matches ``host``."""
        return bool(self.allowed_hosts) and not any(
            "/" in pattern or fnmatch.fnmatchcase(host.lower(), pattern.lower())
            for pattern in self.allowed_hosts
        )

    def _listed(self, host: str, address: Address) -> bool:
        """Some pattern names the host, or a network holding its address."""
        for pattern in self.allowed_hosts:
            if "/" in pattern:
                try:
                    if address in ipaddress.ip_network(pattern, strict=False):
                        return True
                except ValueError:
                    continue
            elif fnmatch.fnmatchcase(host.lower(), pattern.lower()):
                return True
        return False

    def _get(self, target: Target, url: str, deadline: float) -> "Fetched | str":
        """One GET to the checked address: the body, or where it redirects to."""
        connection = self._connect(target, deadline)
        # A stuck peer (a header dripped byte by byte) is cut at the deadline.
        watchdog = threading.Timer(
            max(deadline - time.monotonic(), 0), _cut, (connection,)
        )
        watchdog.start()
        try:
            default = 443 if target.scheme == "https" else 80
            host = target.host if ":" not in target.host else f"[{target.host}]"
            name = host if target.port == default else f"{host}:{target.port}"
            connection.request("GET", target.path, headers={
                "Host": name, "Accept": "image/*", "User-Agent": "progimage",
            })
            response = connection.getresponse()
            if response.status in REDIRECTS and response.getheader("Location"):
                return urllib.parse.urljoin(url, response.getheader("Location"))
            _check_answer(response, url)
            return Fetched(self._read(response, url, deadline), url)
        except (OSError, http.client.HTTPException) as error:
            if time.monotonic() >= deadline or isinstance(error, TimeoutError):
                raise FetchTimedOut(
                    f"fetching {url} took longer than {self.timeout:g} s"
                ) from None
            raise FetchFailed(f"fetching {url} failed: {error}") from None
        finally:
            watchdog.cancel()
            connection.close()

    def _connect(self, target: Target, deadline: float) -> http.client.HTTPConnection:
        """A connection to the checked address (never a second lookup).

        :raises FetchTimedOut: connecting took longer than ``connect_timeout``.
        :raises FetchFailed: the connection was refused.
        """
        timeout = min(self.connect_timeout, max(deadline - time.monotonic(), 0.001))
        if target.scheme == "https":
            tls = self.tls or ssl.create_default_context()
            connection: http.client.HTTPConnection = _PinnedTLS(
                target.address, target.port, target.host, tls, timeout
            )
        else:
            connection = http.client.HTTPConnection(
                target.address, target.port, timeout=timeout
            )
        try:
            connection.connect()
        except TimeoutError:
            connection.close()
            raise FetchTimedOut(
                f"connecting to {target.host} took longer than {timeout:g} s"
            ) from None
        except OSError as error:
            connection.close()
            raise FetchFailed(f"cannot connect to {target.host}: {error}") from None
        assert connection.sock is not None
        connection.sock.settimeout(max(deadline - time.monotonic(), 0.001))
        return connection

    def _read(
        self, response: http.client.HTTPResponse, url: str, deadline: float
    ) -> BinaryIO:
        """The body, counted as it arrives (never trusting Content-Length).

        :raises FetchFailed: more than ``max_bytes``.
        :raises FetchTimedOut: the deadline passed (a slow drip).
        """
        spooled = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
        try:
            while chunk := response.read1(CHUNK):
                if time.monotonic() >= deadline:
                    raise TimeoutError
                if spooled.tell() + len(chunk) > self.max_bytes:
                    raise FetchFailed(
                        f"the image at {url} is larger "
                        f"than the upload limit of {self.max_bytes} bytes"
                    )
                spooled.write(chunk)
            if time.monotonic() >= deadline:
                # The watchdog cut the connection: the body is not whole.
                raise TimeoutError
        except BaseException:
            spooled.close()
            raise
        spooled.seek(0)
        return spooled  # type: ignore[return-value]


def _check_answer(response: http.client.HTTPResponse, url: str) -> None:
    """:raises FetchFailed: not a success, or a declared type that is no image."""
    if response.status != 200:
        raise FetchFailed(f"{url} answered {response.status} {response.reason}")
    kind = (response.getheader("Content-Type") or "").strip().lower()
    if kind and not IMAGE_TYPES.match(kind):
        raise FetchFailed(f"{url} answered {kind}, not an image")


def _cut(connection: http.client.HTTPConnection) -> None:
    """Unblock a read stuck on the connection: the deadline has passed."""
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to an address resolved beforehand, with SNI and the certificate
    checked for the host name (not for the address)."""

    def __init__(self, address: str, port: int, name: str, tls: ssl.SSLContext,
                 timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=tls)
        self._name = name
        self._tls = tls

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._name)
