"""Fetching by URL: the address rules, the limits, one lookup per host, over real
HTTP servers on loopback."""

import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from progimage.exceptions import FetchFailed, FetchRefused, FetchTimedOut
from progimage.fetch import Fetcher, literal_address, refusal
from helpers import make_image
from loopback import answer, serve
from system_programs import require

PNG = make_image("PNG", (8, 6))


def no_lookup(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} is an address: it must not be looked up")


@pytest.mark.parametrize("host, reason", [
    ("127.0.0.1", "a loopback address"),
    ("2130706433", "a loopback address"),
    ("0x7f.1", "a loopback address"),
    ("0177.0.0.1", "a loopback address"),
    ("127.1", "a loopback address"),
    ("[::1]", "a loopback address"),
    ("[::ffff:127.0.0.1]", "a loopback address, embedded in ::ffff:7f00:1"),
    ("[64:ff9b::7f00:1]", "a loopback address, embedded in 64:ff9b::7f00:1"),
    ("[2002:7f00:1::]", "a loopback address, embedded in 2002:7f00:1::"),
    ("0.0.0.0", "an unspecified address"),
    ("0", "an unspecified address"),
    ("[::]", "an unspecified address"),
    ("169.254.169.254", "the cloud metadata address"),
    ("[::ffff:169.254.169.254]",
     "the cloud metadata address, embedded in ::ffff:a9fe:a9fe"),
    ("169.254.1.1", "a link-local address"),
    ("[fe80::1]", "a link-local address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("192.168.0.1", "a private address"),
    ("0xa.0x1.0x2.0x3", "a private address"),
    ("[fd00::]", "a private address"),
    ("[fd00:ec2::254]", "a private address"),
    ("224.0.0.1", "a multicast address"),
    ("[ff02::1]", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "a reserved address"),
    ("100.64.0.1", "not a public address"),
    ("192.0.2.1", "a private address"),
    # Teredo: the client address inside is 192.0.2.45, documentation space.
    ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
     "a private address, embedded in 2001:0:4136:e378:8000:63bf:3fff:fdd2"),
])
def test_refused_addresses_in_every_form(host, reason):
    """Each form a URL can spell a non-public address in is read as the resolver
    would read it, and refused with the reason, without a lookup."""
    fetcher = Fetcher(max_bytes=1000, resolver=no_lookup)
    with pytest.raises(FetchRefused) as refused:
        fetcher.check(f"http://{host}/image.png")
    assert refused.value.detail == f"{host.strip('[]')} is {reason}; it is not fetched"


@pytest.mark.parametrize("host, address", [
    ("8.8.8.8", "8.8.8.8"),
    ("134744072", "8.8.8.8"),
    ("[2606:4700:4700::1111]", "2606:4700:4700::1111"),
    ("[::ffff:8.8.8.8]", "::ffff:808:808"),
    ("[64:ff9b::808:808]", "64:ff9b::808:808"),
])
def test_public_addresses_are_fetched_as_written(host, address):
    """A public address, in any form, is connected to as is."""
    target = Fetcher(max_bytes=1000, resolver=no_lookup).check(f"http://{host}/a")
    assert (target.address, target.port, target.path) == (address, 80, "/a")


@pytest.mark.parametrize("host", ["example", "deadbeef", "1.example", "0x7f.1.example"])
def test_names_are_not_read_as_addresses(host):
    assert literal_address(host) is None


def test_a_name_is_checked_by_the_address_it_resolves_to():
    fetcher = Fetcher(max_bytes=1000, resolver=lambda host, port: ["10.0.0.7"])
    with pytest.raises(FetchRefused, match="inside.test is a private address"):
        fetcher.check("https://inside.test/x.png")
    assert refusal(literal_address("93.184.215.14")) is None


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://example.com/a.png", "gopher://x/", "http:///a.png",
    "http://example.com:99999/",
])
def test_only_http_urls_with_a_host(url):
    with pytest.raises(FetchRefused):
        Fetcher(max_bytes=1000, resolver=no_lookup).check(url)


def image(request):
    answer(request, 200, PNG, "image/png")


def test_loopback_is_refused_by_default():
    with serve(image) as url, pytest.raises(FetchRefused, match="loopback"):
        Fetcher(max_bytes=10_000).fetch(f"{url}/a.png")


@pytest.mark.parametrize("pattern", ["127.0.0.1", "127.0.0.0/8", "127.0.0.*"])
def test_listed_hosts_are_fetched_even_when_private(pattern):
    with serve(image) as url:
        fetched = Fetcher(max_bytes=10_000, allowed_hosts=(pattern,)).fetch(url)
    with fetched.file as file:
        assert file.read() == PNG


def test_the_allowed_list_narrows_public_hosts_too():
    """A name no pattern lists is refused before any lookup."""
    lookups = []

    def resolver(host, port):
        lookups.append(host)
        return ["93.184.215.14"]

    fetcher = Fetcher(max_bytes=1000, allowed_hosts=("*.example.com",),
                      resolver=resolver)
    assert fetcher.check("http://images.example.com/a").address == "93.184.215.14"
    with pytest.raises(FetchRefused, match="not in PROGIMAGE_FETCH_ALLOWED_HOSTS"):
        fetcher.check("http://example.org/a")
    assert lookups == ["images.example.com"]


def test_a_redirect_to_a_refused_host_is_refused():
    """The allowed server sends the client on to 169.254.169.254: not followed."""
    def onwards(request):
        answer(request, 302, b"", "text/plain",
               Location="http://169.254.169.254/latest/meta-data/")

    with serve(onwards) as url, pytest.raises(FetchRefused) as refused:
        Fetcher(max_bytes=10_000, allowed_hosts=("127.0.0.1",)).fetch(url)
    assert refused.value.detail == (
        "169.254.169.254 is not in PROGIMAGE_FETCH_ALLOWED_HOSTS"
    )


def test_redirects_are_followed_three_times_at_most():
    seen = []

    def again(request):
        seen.append(request.path)
        answer(request, 307, b"", "text/plain", Location=f"/{len(seen)}")

    with serve(again) as url:
        fetcher = Fetcher(max_bytes=10_000, allowed_hosts=("127.0.0.1",))
        with pytest.raises(FetchFailed, match="more than 3 redirects"):
            fetcher.fetch(f"{url}/0")
        assert seen == ["/0", "/1", "/2", "/3"]


def test_an_allowed_redirect_is_followed():
    def moved(request):
        if request.path == "/old":
            answer(request, 301, b"", "text/plain", Location="/new.png")
        else:
            image(request)

    with serve(moved) as url:
        fetched = Fetcher(max_bytes=10_000, allowed_hosts=("127.0.0.1",)).fetch(
            f"{url}/old")
    with fetched.file as file:
        assert (file.read(), fetched.url) == (PNG, f"{url}/new.png")


def endless(request):
    """A body without a length that never ends, until the client hangs up."""
    request.send_response(200)
    request.send_header("Content-Type", "image/png")
    request.end_headers()
    try:
        while True:
            request.wfile.write(b"\0" * 65536)
    except OSError:
        pass


def test_an_endless_body_is_cut_at_the_upload_limit():
    with serve(endless) as url:
        fetcher = Fetcher(max_bytes=200_000, allowed_hosts=("127.0.0.1",))
        with pytest.raises(FetchFailed, match="larger than the upload limit of 200000"):
            fetcher.fetch(url)


@pytest.mark.serial
def test_a_slow_drip_is_cut_at_the_time_limit():
    """One byte every 20 ms: every read succeeds, the whole fetch still ends."""
    hung_up = threading.Event()

    def drip(request):
        request.send_response(200)
        request.send_header("Content-Type", "image/png")
        request.end_headers()
        try:
            while not hung_up.wait(0.02):
                request.wfile.write(b"\0")
                request.wfile.flush()
        except OSError:
            hung_up.set()

    with serve(drip) as url:
        fetcher = Fetcher(max_bytes=10_000, timeout=0.5, allowed_hosts=("127.0.0.1",))
        started = time.monotonic()
        with pytest.raises(FetchTimedOut, match="longer than 0.5 s"):
            fetcher.fetch(url)
        elapsed = time.monotonic() - started
        hung_up.set()
    assert 0.5 <= elapsed < 2


@pytest.mark.serial
def test_a_stuck_header_is_cut_at_the_time_limit():
    stop = threading.Event()

    def silent(request):
        stop.wait(10)

    with serve(silent) as url:
        fetcher = Fetcher(max_bytes=10_000, timeout=0.3, allowed_hosts=("127.0.0.1",))
        started = time.monotonic()
        with pytest.raises(FetchTimedOut):
            fetcher.fetch(url)
        assert time.monotonic() - started < 2
        stop.set()


@pytest.mark.parametrize("status, kind, detail", [
    (404, "image/png", "answered 404"),
    (200, "text/html", "answered text/html, not an image"),
])
def test_error_answers_and_non_images_fail(status, kind, detail):
    with serve(lambda request: answer(request, status, b"<html>", kind)) as url:
        fetcher = Fetcher(max_bytes=10_000, allowed_hosts=("127.0.0.1",))
        with pytest.raises(FetchFailed, match=detail):
            fetcher.fetch(url)


def test_a_changing_dns_answer_cannot_move_the_connection():
    """DNS rebinding: the first answer is allowed, a second would be forbidden.
    There is one lookup, and the connection goes to its answer, with the name
    kept in the Host header."""
    lookups = []
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    hosts = []

    def resolver(host, port):
        lookups.append((host, port))
        return next(answers)

    def record(request):
        hosts.append((request.headers["Host"], request.connection.getsockname()[0]))
        image(request)

    with serve(record) as url:
        port = int(url.rsplit(":", 1)[1])
        fetcher = Fetcher(max_bytes=10_000, allowed_hosts=("127.0.0.1/32",),
                          resolver=resolver)
        fetched = fetcher.fetch(f"http://rebind.test:{port}/a.png")
    with fetched.file as file:
        assert file.read() == PNG
    assert lookups == [("rebind.test", port)]
    assert hosts == [(f"rebind.test:{port}", "127.0.0.1")]


def test_a_refused_connection_fails():
    with serve(image) as url:
        pass  # closed: nothing listens on its port any more
    with pytest.raises(FetchFailed, match="cannot connect"):
        Fetcher(max_bytes=10_000, allowed_hosts=("127.0.0.1",)).fetch(url)


@pytest.fixture(name="tls_server")
def _tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate for the name pinned.test
    only; yields its port and a client context trusting that certificate."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [require("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=pinned.test", "-addext", "subjectAltName=DNS:pinned.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    handler = type("Handler", (BaseHTTPRequestHandler,), {
        "do_GET": image, "log_message": lambda *args: None,
    })
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            yield server.server_port, ssl.create_default_context(cafile=str(cert))
        finally:
            server.shutdown()
            thread.join(timeout=10)


def test_https_goes_to_the_pinned_address_and_verifies_the_name(tls_server):
    """The connection goes to the address looked up once, the certificate is
    checked for the name in the URL (SNI too), not for the address."""
    port, trust = tls_server
    fetcher = Fetcher(max_bytes=10_000, allowed_hosts=("127.0.0.1/32",), tls=trust,
                      resolver=lambda host, port: ["127.0.0.1"])
    fetched = fetcher.fetch(f"https://pinned.test:{port}/a.png")
    with fetched.file as file:
        assert file.read() == PNG
    with pytest.raises(FetchFailed, match="CERTIFICATE_VERIFY_FAILED"):
        fetcher.fetch(f"https://other.test:{port}/a.png")


def test_a_name_without_an_address_fails():
    fetcher = Fetcher(max_bytes=1000, resolver=lambda host, port: [])
    with pytest.raises(FetchFailed, match="nowhere.test has no address"):
        fetcher.check("http://nowhere.test/")
