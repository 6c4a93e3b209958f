"""Fetch one web page or feed over HTTP(S) without letting a URL reach private or internal hosts.

Every hop (the first URL and each redirect target) is checked by :func:`check_url`: only http and
https, no credentials, and every address the host resolves to must be public. The connection is then
made to the very address that was checked, with the original name sent in the Host header and as
TLS SNI / certificate name, so a DNS answer that changes between check and connect (DNS rebinding)
cannot steer the request elsewhere. Bodies are streamed and capped, compressed ones included.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

from ingest.errors import IngestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_USER_AGENT = "marketkb/0.1 (+https://github.com/marketkb; fetches pages a user asked for)"

_ACCEPTED_SCHEMES = ("http", "https")
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024

# Instance-metadata endpoints hand out cloud credentials; they are refused even with allow_private.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.169.253",  # AWS DNS resolver
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::253",
        "100.100.100.200",  # Alibaba Cloud
    )
)
_METADATA_NAMES = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
# Names that are local by definition (RFC 6761), refused before any DNS lookup.
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# Address ranges that embed an IPv4 address in an IPv6 one (NAT64 well-known prefixes).
_NAT64_NETWORKS = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
)
_LEGACY_IPV4_PART = re.compile(r"^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$")


@dataclass
class FetchedPage:
    """The body of a successful fetch; ``final_url`` is where redirects ended."""

    url: str
    final_url: str
    status: int
    content_type: str | None
    data: bytes
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        """Whether the server answered a conditional GET with 304: nothing new, no body."""
        return self.status == 304


@dataclass
class _Target:
    """A checked URL: its parts, the name to present, and the addresses it may be fetched from."""

    parts: SplitResult
    host: str
    port: int
    addresses: list[IPAddress]


# The most one fetch may take in all (connects, redirects and the download together).
TOTAL_TIMEOUT = 20.0


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Raise IngestError(status=400) unless ``url`` is an http(s) URL of a public host."""
    _check(url, allow_private=allow_private)


def fetch(
    url: str,
    *,
    allow_private: bool = False,
    connect_timeout: float = 5.0,
    read_timeout: float = 15.0,
    max_bytes: int = 10 * 1024 * 1024,
    max_redirects: int = 5,
    user_agent: str = DEFAULT_USER_AGENT,
    total_timeout: float = TOTAL_TIMEOUT,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchedPage:
    """GET ``url``, following up to ``max_redirects`` checked redirects; body up to max_bytes.

    ``total_timeout`` bounds the whole fetch, every connect, redirect and download included;
    the other two bound each wait within it. ``etag`` and ``last_modified`` (from an earlier
    fetch) make the GET conditional: a 304 answer comes back as a page with ``not_modified``.
    """
    conditional = {
        name: value
        for name, value in (("If-None-Match", etag), ("If-Modified-Since", last_modified))
        if value
    }
    url = current = url.strip()
    deadline = time.monotonic() + total_timeout
    for _hop in range(max_redirects + 1):
        target = _check(current, allow_private=allow_private)
        left = _time_left(deadline, total_timeout, url)
        response = _open(
            target,
            min(connect_timeout, left),
            min(read_timeout, left),
            user_agent,
            source=url,
            extra_headers=conditional,
        )
        try:
            status = response.status
            if status == 304 and conditional:
                return FetchedPage(
                    url=url,
                    final_url=current,
                    status=status,
                    content_type=None,
                    data=b"",
                    etag=response.headers.get("ETag") or etag,
                    last_modified=response.headers.get("Last-Modified") or last_modified,
                )
            location = response.headers.get("Location")
            if status in _REDIRECT_STATUSES and location:
                current = urljoin(current, location.strip())
                continue
            if status >= 400:
                raise IngestError(
                    f"the server answered HTTP {status} for {current}", source=url, status=status
                )
            if not 200 <= status < 300:
                raise IngestError(
                    f"the server answered HTTP {status} for {current}; only 2xx pages and "
                    "redirects with a Location are accepted",
                    source=url,
                    status=502,
                )
            data = _read_body(
                response,
                max_bytes,
                min(read_timeout, _time_left(deadline, total_timeout, url)),
                source=url,
            )
            return FetchedPage(
                url=url,
                final_url=current,
                status=status,
                content_type=response.headers.get("Content-Type"),
                data=data,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
        finally:
            # Never reuse a connection: each hop gets its own pinned pool.
            response.close()
    raise IngestError(
        f"too many redirects (more than {max_redirects}); last one pointed to {current}",
        source=url,
        status=422,
    )


def _check(url: str, *, allow_private: bool) -> _Target:
    """Validate ``url`` and resolve its host to addresses that may be connected to."""

    def refuse(reason: str) -> IngestError:
        return IngestError(reason, source=url, status=400)

    if not isinstance(url, str) or not url.strip():
        raise refuse("the URL is empty; give an http:// or https:// URL")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url.strip()):
        raise refuse("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise refuse(f"the URL is malformed ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in _ACCEPTED_SCHEMES:
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise refuse(f"URL scheme {shown} is not accepted; only http:// and https:// URLs are")
    if parts.username is not None or parts.password is not None:
        raise refuse("URLs with a user name or password in them are not accepted")
    name = (parts.hostname or "").rstrip(".")
    if not name:
        raise refuse("the URL has no host name")
    try:
        # IDNA 2003 via the codec; punycode is what DNS, Host and SNI need.
        host = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise refuse(f"the host name {name!r} is not a valid domain name") from None
    if port is None:
        port = 443 if scheme == "https" else 80

    if host in _METADATA_NAMES:
        raise refuse(f"host {host} is a cloud metadata service and is never fetched")
    if not allow_private and (host in _LOCAL_NAMES or host.endswith(".localhost")):
        raise refuse(f"host {host} is the local machine; only public hosts are fetched")

    addresses = _resolve(host, port, refuse)
    for address in addresses:
        shown = host if host == str(address) else f"{host} ({address})"
        if _plain(address) in _METADATA_ADDRESSES or address in _METADATA_ADDRESSES:
            raise refuse(f"host {shown} is a cloud metadata address and is never fetched")
        if not allow_private:
            reason = _address_refusal(address)
            if reason:
                raise refuse(f"host {shown} is {reason}; only public addresses are fetched")
    return _Target(parts=parts._replace(scheme=scheme), host=host, port=port, addresses=addresses)


def _resolve(host: str, port: int, refuse: Callable[[str], IngestError]) -> list[IPAddress]:
    """All addresses for ``host``; IP literals (legacy IPv4 spellings too) need no DNS."""
    literal = _ip_literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise refuse(f"the host name {host} could not be resolved ({error})") from None
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        # An IPv6 scope ("fe80::1%eth0") is not part of the address itself.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise refuse(f"the host name {host} has no IPv4 or IPv6 address")
    return addresses


def _ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, also in inet_aton forms (2130706433, 0x7f.1, 0177.0.0.1)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    pieces = host.split(".")
    if not 1 <= len(pieces) <= 4 or not all(_LEGACY_IPV4_PART.match(p) for p in pieces):
        return None
    numbers = []
    for piece in pieces:
        if piece.startswith("0x"):
            numbers.append(int(piece[2:] or "0", 16))
        elif piece.startswith("0") and len(piece) > 1:
            numbers.append(int(piece[1:], 8))
        else:
            numbers.append(int(piece))
    # The last part fills all the bytes the earlier ones leave over, as in inet_aton.
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 1 << (8 * (4 - len(leading))):
        return None
    value = 0
    for n in leading:
        value = value << 8 | n
    value = value << (8 * (4 - len(leading))) | last
    return ipaddress.IPv4Address(value)


def _plain(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, Teredo), else ``address``."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in network for network in _NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return address


def _address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be connected to, or None when it is a public unicast address."""
    for candidate in dict.fromkeys((_plain(address), address)):
        if candidate.is_loopback:
            return "a loopback address"
        if candidate.is_unspecified:
            return "the unspecified address"
        if candidate.is_link_local:
            return "a link-local address"
        if candidate.is_multicast:
            return "a multicast address"
        if candidate.is_private:
            return "a private address"
        if candidate.is_reserved:
            return "a reserved address"
        if isinstance(candidate, ipaddress.IPv6Address) and candidate.is_site_local:
            return "a site-local address"
        if not candidate.is_global:
            # Shared address space (100.64.0.0/10) and the like.
            return "not a public address"
    return None


def _open(
    target: _Target,
    connect_timeout: float,
    read_timeout: float,
    user_agent: str,
    *,
    source: str,
    extra_headers: dict[str, str] | None = None,
) -> urllib3.BaseHTTPResponse:
    """Send the GET to the checked addresses in turn; the first that connects answers."""
    parts = target.parts
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if parts.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host_header = f"{host_header}:{target.port}"
    headers = {
        "Host": host_header,
        "User-Agent": user_agent,
        "Accept": "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
        "application/xml;q=0.9,*/*;q=0.8",
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
        **(extra_headers or {}),
    }
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
    last_error: Exception | None = None
    # A few addresses at most, so a host with many dead ones cannot multiply the connect timeout.
    for address in target.addresses[:3]:
        if parts.scheme == "https":
            # Connect to the checked address but verify the certificate for the name, and send SNI.
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                str(address),
                target.port,
                timeout=timeout,
                retries=False,
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                str(address), target.port, timeout=timeout, retries=False
            )
        try:
            return pool.urlopen(
                "GET",
                path,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                release_conn=False,
                assert_same_host=False,
            )
        except (ConnectTimeoutError, NewConnectionError) as error:
            last_error = error
            continue
        except ReadTimeoutError:
            raise IngestError(
                f"{target.host} did not answer within {read_timeout:g} s", source=source, status=504
            ) from None
        except SSLError as error:
            raise IngestError(
                f"TLS with {target.host} failed ({error})", source=source, status=502
            ) from None
        except urllib3.exceptions.HTTPError as error:
            raise IngestError(
                f"fetching from {target.host} failed ({error})", source=source, status=502
            ) from None
    # urllib3 makes NewConnectionError (refused, unreachable) a subclass of ConnectTimeoutError.
    if not isinstance(last_error, NewConnectionError):
        raise IngestError(
            f"could not connect to {target.host} within {connect_timeout:g} s",
            source=source,
            status=504,
        )
    raise IngestError(
        f"could not connect to {target.host} port {target.port} ({_reason(last_error)})",
        source=source,
        status=502,
    )


def _time_left(deadline: float, limit: float, source: str) -> float:
    """Seconds left before ``deadline``; a 504 once none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise IngestError(f"the fetch took longer than {limit:g} s", source=source, status=504)
    return left


def _reason(error: Exception | None) -> str:
    """The OS's words from a urllib3 connection error, without urllib3's pool description."""
    return str(error).rsplit("new connection: ", 1)[-1]


def _read_body(
    response: urllib3.BaseHTTPResponse, max_bytes: int, read_timeout: float, *, source: str
) -> bytes:
    """The decoded body, refused with 413 once raw or decoded size passes ``max_bytes``."""
    too_large = IngestError(
        f"the page is larger than the {max_bytes} byte limit", source=source, status=413
    )
    declared = response.headers.get("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise too_large
    decoder = _Decoder(response.headers.get("Content-Encoding"), max_bytes, source)
    # The socket timeout bounds each wait; this bounds a server that drips bytes forever.
    deadline = time.monotonic() + read_timeout
    raw_size = 0
    try:
        for chunk in response.stream(_CHUNK, decode_content=False):
            raw_size += len(chunk)
            if raw_size > max_bytes:
                raise too_large
            decoder.feed(chunk)
            if time.monotonic() > deadline:
                raise IngestError(
                    f"the page took longer than {read_timeout:g} s to download",
                    source=source,
                    status=504,
                )
    except ReadTimeoutError:
        raise IngestError(
            f"the server stopped sending for {read_timeout:g} s", source=source, status=504
        ) from None
    except urllib3.exceptions.HTTPError as error:
        raise IngestError(f"the download broke off ({error})", source=source, status=502) from None
    return decoder.finish()


class _Decoder:
    """Undo gzip/deflate Content-Encoding incrementally, never producing more than the cap."""

    def __init__(self, encoding: str | None, max_bytes: int, source: str) -> None:
        codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise IngestError(
                f"Content-Encoding {encoding!r} is not supported; gzip, deflate or none is",
                source=source,
                status=502,
            )
        self.coding = codings[0] if codings else None
        self.max_bytes = max_bytes
        self.source = source
        self.parts: list[bytes] = []
        self.size = 0
        self.first = True
        self.inflater = self._new_inflater()

    def _new_inflater(self):  # zlib has no public name for the decompressor type
        # 47 = accept a gzip header; deflate is zlib-wrapped by the RFC, raw in some servers.
        return zlib.decompressobj(47 if self.coding in ("gzip", "x-gzip") else 15)

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise IngestError(
                f"the page is larger than the {self.max_bytes} byte limit once decompressed",
                source=self.source,
                status=413,
            )
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        """Take the next raw chunk."""
        if self.coding is None:
            self._keep(chunk)
            return
        if self.first and self.coding == "deflate" and chunk:
            self.first = False
            # A zlib stream starts with a header whose first 16 bits are a multiple of 31.
            if len(chunk) < 2 or (chunk[0] << 8 | chunk[1]) % 31 or chunk[0] & 0x0F != 8:
                self.inflater = zlib.decompressobj(-15)
        data = chunk
        try:
            while data:
                if self.inflater.eof:
                    # Only gzip may hold several members in a row; anything else after the end
                    # (padding some servers add) is ignored.
                    if self.coding == "deflate" or not data.startswith(b"\x1f\x8b"):
                        return
                    self.inflater = self._new_inflater()
                # max_length keeps a small bomb from expanding far past the cap in one call.
                self._keep(self.inflater.decompress(data, self.max_bytes - self.size + 1))
                data = (
                    self.inflater.unused_data
                    if self.inflater.eof
                    else self.inflater.unconsumed_tail
                )
        except zlib.error as error:
            raise IngestError(
                f"the {self.coding} body is corrupt ({error})", source=self.source, status=502
            ) from None

    def finish(self) -> bytes:
        """The whole decoded body."""
        if self.coding is not None:
            try:
                self._keep(self.inflater.flush())
            except zlib.error as error:
                raise IngestError(
                    f"the {self.coding} body is corrupt ({error})", source=self.source, status=502
                ) from None
            if not self.inflater.eof:
                raise IngestError(
                    f"the {self.coding} body ends early", source=self.source, status=502
                )
        return b"".join(self.parts)
