"""A small HTTP server on 127.0.0.1 for tests: fixed answers per path, in a background thread.

Usage::

    from support.http_server import LocalServer, Route

    routes = {
        "/a.html": Route(body=b"<html>...</html>"),
        "/old": Route(redirect="/a.html"),  # 302 with Location: /a.html
        "/feed.xml": Route(body=rss_bytes, content_type="application/rss+xml"),
        "/slow": Route(body=b"late", delay=2.0),  # waits 2 s before answering
    }
    with LocalServer(routes) as server:
        fetch(server.url("/a.html"), allow_private=True)
        server.requests  # every request seen: Request(method, path, headers)

As a pytest fixture::

    @pytest.fixture
    def server():
        with LocalServer() as server:
            yield server

    def test_x(server):
        server.routes["/x"] = Route(body=b"...")  # routes may be added after start

``LocalServer(routes, ssl_context=ctx)`` serves HTTPS with a server-side ``ssl.SSLContext``.
Unknown paths answer 404. A route is looked up by the full path with query first, then without.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Route:
    """One canned answer: status, body and headers, optionally after a delay or as a redirect.

    ``redirect`` sets a Location header (absolute, or a path on this server) and defaults the
    status to 302. ``content_length=False`` omits Content-Length and ends the body by closing the
    connection. ``delay`` seconds pass before the status line is sent; ``body_delay`` seconds pass
    between the headers and the body. ``etag`` is sent as the ETag header, and a request whose
    If-None-Match names it is answered 304 Not Modified with no body.
    """

    body: bytes = b""
    status: int | None = None
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body_delay: float = 0.0
    redirect: str | None = None
    content_length: bool = True
    etag: str | None = None


@dataclass
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


class LocalServer:
    """A threaded HTTP/1.0 server on 127.0.0.1 and a free port, serving ``routes``."""

    def __init__(
        self, routes: dict[str, Route] | None = None, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.ssl_context = ssl_context
        self.requests: list[Request] = []
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (after start)."""
        if self._httpd is None:
            raise RuntimeError("the server is not started; use it as a context manager")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (https with an ssl_context), no trailing slash."""
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> LocalServer:
        """Bind and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"local_server": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        if self.ssl_context is not None:
            self._httpd.socket = self.ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed answers in flight are cut short."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # Do not wait on handlers still sleeping through a delay when the server closes.
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients in tests hang up on purpose (size caps, timeouts); that is not a failure.
        pass


class _Handler(BaseHTTPRequestHandler):
    local_server: LocalServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        server = self.local_server
        server.requests.append(Request(self.command, self.path, dict(self.headers.items())))
        route = server.routes.get(self.path) or server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            route = Route(body=b"not found", status=404, content_type="text/plain")
        if route.delay and server._stopping.wait(route.delay):
            return
        if route.etag and self.headers.get("If-None-Match") == route.etag:
            self.send_response(304)
            self.send_header("ETag", route.etag)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        status = route.status or (302 if route.redirect else 200)
        self.send_response(status)
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.redirect:
            self.send_header("Location", route.redirect)
        if route.content_type:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.content_length:
            self.send_header("Content-Length", str(len(route.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if not with_body:
            return
        if route.body_delay:
            self.wfile.flush()
            if server._stopping.wait(route.body_delay):
                return
        self.wfile.write(route.body)
