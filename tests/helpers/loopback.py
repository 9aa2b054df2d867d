"""What the tests' stand-in HTTP servers share: a server on 127.0.0.1 in a daemon thread, and JSON replies.

`tests.helpers.openai_server.OpenAIServer` and `tests.helpers.vllm_server.VLLMServer` are
LoopbackServers; their request handlers are JSONHandlers.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

_S = TypeVar("_S", bound="LoopbackServer")


class JSONHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler that answers with JSON (`_send`)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Answer `status` with `payload` as JSON (None: an empty body) and any extra headers."""
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class LoopbackServer:
    """Serves `_handler()` on 127.0.0.1 (port 0 picks a free one) from a daemon thread; a context manager.

    A subclass sets up its own state, then calls `super().__init__(port)`, and gives `_handler()`.
    """

    def __init__(self, port: int = 0) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self: _S) -> _S:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
