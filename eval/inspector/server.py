"""Serve the inspector's pages over HTTP with the standard library (no extra needed)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from eval.inspector.app import Inspector


def make_server(inspector: Inspector, host: str, port: int) -> ThreadingHTTPServer:
    """A server (not yet serving) for `inspector`'s pages; port 0 picks a free one. OSError when it cannot bind."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "swe-search-inspect"

        def do_GET(self) -> None:  # noqa: N802 -- http.server's name
            self._answer(body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            try:
                page = inspector.page(unquote(urlsplit(self.path).path))
            except Exception as e:  # noqa: BLE001 -- one request's failure is reported, the server goes on
                message = f"the inspector failed on {self.path}: {type(e).__name__}: {e}"
                self.send_error(500, explain=message)
                return
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.send_header("Cache-Control", "no-store")  # a running run's pages change
            self.send_header(
                "Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'"
            )
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if body:
                self.wfile.write(page.body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 -- quiet: the URL was printed
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{shown}:{port}/"
