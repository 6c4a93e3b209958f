"""Fetching pages: URL checks, redirects, caps, timeouts and content encodings."""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import time
import zlib
from ipaddress import ip_address

import pytest
from support.http_server import LocalServer, Route

from ingest import fetch as fetch_module
from ingest.errors import IngestError
from ingest.fetch import FetchedPage, check_url, fetch

PAGE = b"<html><head><title>Rates</title></head><body><p>Yields rose.</p></body></html>"


@pytest.fixture
def server():
    with LocalServer() as server:
        yield server


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Make socket.getaddrinfo answer ``answers`` (name -> addresses); returns the names asked."""
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if _is_ip(host):
            # urllib3 "resolves" the address literal fetch connects to; that is no DNS lookup.
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port),
            )
            for a in answers[host]
        ]

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", getaddrinfo)
    return asked


def _is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def test_fetches_a_local_page_when_private_hosts_are_allowed(server):
    server.routes["/a.html"] = Route(body=PAGE)
    page = fetch(server.url("/a.html"), allow_private=True)
    assert page == FetchedPage(
        url=server.url("/a.html"),
        final_url=server.url("/a.html"),
        status=200,
        content_type="text/html; charset=utf-8",
        data=PAGE,
    )


def test_sends_the_user_agent_and_host_of_the_url(server):
    server.routes["/a.html"] = Route(body=PAGE)
    fetch(server.url("/a.html?x=1#frag"), allow_private=True, user_agent="test-agent/1")
    [request] = server.requests
    assert request.path == "/a.html?x=1"
    assert request.headers["User-Agent"] == "test-agent/1"
    assert request.headers["Host"] == f"127.0.0.1:{server.port}"


def test_refuses_the_local_server_without_allow_private(server):
    server.routes["/a.html"] = Route(body=PAGE)
    with pytest.raises(IngestError, match="loopback") as caught:
        fetch(server.url("/a.html"))
    assert caught.value.status == 400
    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/file.txt",
        "javascript:alert(1)",
        "data:text/html,<p>hi</p>",
        "gopher://example.com/",
        "example.com/page",
    ],
)
def test_refuses_schemes_other_than_http_and_https(url):
    with pytest.raises(IngestError, match="only http:// and https://") as caught:
        check_url(url)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/latest/", "metadata"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://2852039166/", "metadata"),  # 169.254.169.254 as one decimal number
        ("http://0xa9fea9fe/", "metadata"),
        ("http://100.100.100.200/", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://METADATA.google.internal./", "metadata"),
        ("http://127.0.0.1/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://0x7f000001/", "loopback"),
        ("http://0177.0.0.1/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:7f00:1]:8080/", "loopback"),
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 around 127.0.0.1
        ("http://localhost:8000/", "local machine"),
        ("http://api.localhost/", "local machine"),
        ("http://10.0.0.5/", "private"),
        ("http://172.16.3.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://012.0.0.1/", "private"),  # octal 10.0.0.1
        ("http://[fd12:3456::1]/", "private"),
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 around 10.0.0.1
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://240.0.0.1/", "private|reserved"),
        ("http://100.64.0.1/", "not a public address"),
    ],
)
def test_refuses_hosts_that_are_not_public(url, reason):
    with pytest.raises(IngestError, match=reason) as caught:
        check_url(url)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://user:secret@example.com/", "user name or password"),
        ("https://token@example.com/", "user name or password"),
        ("http:///path", "no host"),
        ("http://exa mple.com/", "spaces or control"),
        ("http://example.com:99999/", "malformed"),
        ("", "empty"),
    ],
)
def test_refuses_malformed_urls(url, reason):
    with pytest.raises(IngestError, match=reason) as caught:
        check_url(url)
    assert caught.value.status == 400


@pytest.mark.parametrize("url", ["http://8.8.8.8/", "https://[2606:4700:4700::1111]:8443/x"])
def test_accepts_public_ip_literals(url):
    check_url(url)


def test_allow_private_accepts_loopback_but_never_metadata():
    check_url("http://127.0.0.1:8000/", allow_private=True)
    check_url("http://localhost/", allow_private=True)
    with pytest.raises(IngestError, match="metadata"):
        check_url("http://169.254.169.254/", allow_private=True)


def test_refuses_a_name_when_any_of_its_addresses_is_private(monkeypatch):
    _fake_dns(monkeypatch, {"news.example": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(IngestError, match=r"news\.example \(10\.1\.2\.3\) is a private"):
        check_url("https://news.example/markets")


def test_accepts_a_name_whose_addresses_are_all_public(monkeypatch):
    _fake_dns(monkeypatch, {"news.example": ["93.184.216.34", "2606:2800:220:1::1"]})
    check_url("https://news.example/markets")


def test_refuses_a_name_that_does_not_resolve(monkeypatch):
    _fake_dns(monkeypatch, {})
    with pytest.raises(IngestError, match="could not be resolved") as caught:
        check_url("https://no-such-host.example/")
    assert caught.value.status == 400


def test_connects_to_the_checked_address_not_a_second_lookup(server, monkeypatch):
    # A rebinding DNS answers differently the second time; only the first answer may be used.
    answers = iter([["127.0.0.1"], ["203.0.113.9"]])
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        # urllib3 also calls getaddrinfo on the address literal it is given; that is no lookup.
        addresses = [host] if _is_ip(host) else next(answers)
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", getaddrinfo)
    server.routes["/a.html"] = Route(body=PAGE)
    page = fetch(f"http://feeds.example:{server.port}/a.html", allow_private=True)
    assert page.data == PAGE
    assert asked == ["feeds.example", "127.0.0.1"]
    assert server.requests[0].headers["Host"] == f"feeds.example:{server.port}"


def test_follows_a_redirect_chain(server):
    server.routes.update(
        {
            "/old": Route(redirect="/older", status=301),
            "/older": Route(redirect=server.url("/new"), status=307),
            "/new": Route(redirect="page.html", status=308),
            "/page.html": Route(body=PAGE),
        }
    )
    page = fetch(server.url("/old"), allow_private=True)
    assert page.data == PAGE
    assert page.url == server.url("/old")
    assert page.final_url == server.url("/page.html")
    assert [r.path for r in server.requests] == ["/old", "/older", "/new", "/page.html"]


def test_refuses_more_redirects_than_the_limit(server):
    server.routes["/loop"] = Route(redirect="/loop")
    with pytest.raises(IngestError, match="too many redirects"):
        fetch(server.url("/loop"), allow_private=True, max_redirects=3)
    assert len(server.requests) == 4


def test_follows_exactly_the_redirect_limit(server):
    server.routes.update({"/1": Route(redirect="/2"), "/2": Route(redirect="/3"), "/3": Route()})
    assert fetch(server.url("/1"), allow_private=True, max_redirects=2).final_url == server.url(
        "/3"
    )


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)"]
)
def test_refuses_a_redirect_to_another_scheme(server, location):
    server.routes["/go"] = Route(redirect=location)
    with pytest.raises(IngestError, match="only http:// and https://") as caught:
        fetch(server.url("/go"), allow_private=True)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.2/admin",
        "http://localhost/admin",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706434/",  # 127.0.0.2
    ],
)
def test_refuses_a_redirect_from_a_public_host_to_a_private_one(server, monkeypatch, location):
    # Treat the test server's own address as public, so only the redirect target is private.
    real_refusal = fetch_module._address_refusal
    monkeypatch.setattr(
        fetch_module,
        "_address_refusal",
        lambda a: None if a == ip_address("127.0.0.1") else real_refusal(a),
    )
    server.routes["/go"] = Route(redirect=location)
    with pytest.raises(IngestError) as caught:
        fetch(server.url("/go"))
    assert caught.value.status == 400
    assert [r.path for r in server.requests] == ["/go"]


@pytest.mark.parametrize("content_length", [True, False])
def test_refuses_a_body_over_the_cap(server, content_length):
    server.routes["/big"] = Route(body=b"x" * 200_000, content_length=content_length)
    with pytest.raises(IngestError, match="larger than the 100000 byte limit") as caught:
        fetch(server.url("/big"), allow_private=True, max_bytes=100_000)
    assert caught.value.status == 413


@pytest.mark.parametrize("content_length", [True, False])
def test_accepts_a_body_exactly_at_the_cap(server, content_length):
    server.routes["/full"] = Route(body=b"x" * 100_000, content_length=content_length)
    page = fetch(server.url("/full"), allow_private=True, max_bytes=100_000)
    assert len(page.data) == 100_000


def test_times_out_on_a_server_that_does_not_answer(server):
    server.routes["/slow"] = Route(body=PAGE, delay=5.0)
    started = time.monotonic()
    with pytest.raises(IngestError, match="did not answer within 0.3 s") as caught:
        fetch(server.url("/slow"), allow_private=True, read_timeout=0.3)
    assert caught.value.status == 504
    assert time.monotonic() - started < 2.0


def test_times_out_on_a_body_that_does_not_arrive(server):
    server.routes["/stall"] = Route(body=PAGE, body_delay=5.0)
    started = time.monotonic()
    with pytest.raises(IngestError, match="stopped sending") as caught:
        fetch(server.url("/stall"), allow_private=True, read_timeout=0.3)
    assert caught.value.status == 504
    assert time.monotonic() - started < 2.0


def test_the_total_timeout_bounds_a_chain_of_slow_redirects(server):
    # Each hop answers in time on its own; together they take longer than the fetch may.
    for n in range(4):
        server.routes[f"/hop{n}"] = Route(redirect=f"/hop{n + 1}", delay=0.3)
    server.routes["/hop4"] = Route(body=PAGE)
    with pytest.raises(IngestError) as caught:
        fetch(server.url("/hop0"), allow_private=True, read_timeout=10, total_timeout=0.5)
    assert caught.value.status == 504
    assert len(server.requests) < 4  # it gave up instead of following every hop


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_http_errors_carry_the_status(server, status):
    server.routes["/gone"] = Route(body=b"nope", status=status)
    with pytest.raises(IngestError, match=f"HTTP {status}") as caught:
        fetch(server.url("/gone"), allow_private=True)
    assert caught.value.status == status


def test_unknown_path_is_a_404(server):
    with pytest.raises(IngestError) as caught:
        fetch(server.url("/missing"), allow_private=True)
    assert caught.value.status == 404


def test_connection_refused_is_a_502():
    with LocalServer() as stopped:
        url = stopped.url("/a.html")
    with pytest.raises(IngestError, match="could not connect") as caught:
        fetch(url, allow_private=True)
    assert caught.value.status == 502


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("gzip", lambda d: gzip.compress(d[:40]) + gzip.compress(d[40:])),  # two members
        ("deflate", zlib.compress),
        ("deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, as some servers send
        ("identity", lambda d: d),
    ],
)
def test_decodes_content_encoding(server, encoding, compress):
    server.routes["/z"] = Route(body=compress(PAGE), headers={"Content-Encoding": encoding})
    assert fetch(server.url("/z"), allow_private=True).data == PAGE


def test_asks_only_for_encodings_it_can_decode(server):
    server.routes["/a"] = Route(body=PAGE)
    fetch(server.url("/a"), allow_private=True)
    assert server.requests[0].headers["Accept-Encoding"] == "gzip, deflate"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_refuses_a_compressed_body_that_expands_past_the_cap(server, encoding):
    bomb = b"\0" * 5_000_000
    body = gzip.compress(bomb) if encoding == "gzip" else zlib.compress(bomb)
    assert len(body) < 100_000
    server.routes["/bomb"] = Route(body=body, headers={"Content-Encoding": encoding})
    with pytest.raises(IngestError, match="once decompressed") as caught:
        fetch(server.url("/bomb"), allow_private=True, max_bytes=100_000)
    assert caught.value.status == 413


def test_refuses_a_corrupt_gzip_body(server):
    server.routes["/bad"] = Route(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(IngestError, match="corrupt"):
        fetch(server.url("/bad"), allow_private=True)


def test_refuses_an_encoding_it_did_not_ask_for(server):
    server.routes["/br"] = Route(body=b"\x8b\x00", headers={"Content-Encoding": "br"})
    with pytest.raises(IngestError, match="'br' is not supported"):
        fetch(server.url("/br"), allow_private=True)


def test_https_to_a_server_without_tls_is_a_502(server):
    server.routes["/a.html"] = Route(body=PAGE)
    with pytest.raises(IngestError, match="TLS with 127.0.0.1 failed") as caught:
        fetch(f"https://127.0.0.1:{server.port}/a.html", allow_private=True)
    assert caught.value.status == 502


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    """An HTTPS LocalServer with a self-signed certificate for feeds.example, trusted by fetch."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=feeds.example"]
        + ["-addext", "subjectAltName=DNS:feeds.example"],
        check=True,
        capture_output=True,
    )
    # ssl.create_default_context, which urllib3 uses per connection, reads SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _socket, name, _context: names.append(name)
    with LocalServer(ssl_context=context) as server:
        server.sni_names = names
        yield server


def test_https_is_pinned_to_the_address_with_sni_and_certificate_for_the_name(
    tls_server, monkeypatch
):
    asked = _fake_dns(monkeypatch, {"feeds.example": ["127.0.0.1"]})
    tls_server.routes["/a.html"] = Route(body=PAGE)
    page = fetch(f"https://feeds.example:{tls_server.port}/a.html", allow_private=True)
    assert page.data == PAGE
    assert asked == ["feeds.example"]
    assert tls_server.sni_names == ["feeds.example"]
    assert tls_server.requests[0].headers["Host"] == f"feeds.example:{tls_server.port}"


def test_https_refuses_a_certificate_for_another_name(tls_server, monkeypatch):
    _fake_dns(monkeypatch, {"other.example": ["127.0.0.1"]})
    tls_server.routes["/a.html"] = Route(body=PAGE)
    with pytest.raises(IngestError, match="doesn't match 'feeds.example'") as caught:
        fetch(f"https://other.example:{tls_server.port}/a.html", allow_private=True)
    assert caught.value.status == 502


def test_refuses_a_truncated_gzip_body(server):
    body = gzip.compress(PAGE)[:-12]
    server.routes["/cut"] = Route(body=body, headers={"Content-Encoding": "gzip"})
    with pytest.raises(IngestError, match="ends early"):
        fetch(server.url("/cut"), allow_private=True)
