"""A small WSGI server with HTTP/1.1 keep-alive, for moto and the fake channels.

werkzeug's development server closes every connection after one answer (it cannot drain
a request body before reading the next request line), so every AWS call and every
channel request of the local stack paid for a new TCP connection, a new thread and a
selector, and the server side of that was the largest share of the CPU time of the
fault-injection test. Here the whole request body is read before the application runs
(local requests are small), so the connection can carry the next request, and each
answer goes out in one write with its Content-Length.

It serves what boto3, requests and the tests send: Content-Length or chunked bodies,
`Expect: 100-continue`, `Connection: close`. It is not a production server.
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

IDLE_TIMEOUT_SECONDS = 60.0
"""An idle keep-alive connection's thread ends after this long."""

_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


class KeepAliveWSGIServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> KeepAliveWSGIServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        # Threads waiting for a keep-alive connection's next request end with it.
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def process_request(self, request: Any, client_address: Any) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout, a fault test's slow answer) closed the
        # connection before the answer went out: nothing to report, as werkzeug did.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    server: KeepAliveWSGIServer

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        try:
            body = self._read_body()
        except ValueError as error:
            self.close_connection = True
            self.send_error(400, str(error))
            return
        self._respond(self._environ(body))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _environ(self, body: bytes) -> dict[str, Any]:
        target = urlsplit(self.path)
        path = unquote(target.path, errors="surrogateescape") if target.path else "/"
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            # WSGI strings are bytes as latin-1 (PEP 3333).
            "PATH_INFO": path.encode("utf-8", "surrogateescape").decode("latin-1"),
            "QUERY_STRING": target.query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": self.client_address[1],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)) if body or "Content-Length" in self.headers else "",
        }
        content_type = self.headers.get("Content-Type")
        if content_type:
            environ["CONTENT_TYPE"] = content_type
        for name, value in self.headers.items():
            lowered = name.lower()
            if lowered in ("content-type", "content-length", "transfer-encoding"):
                continue
            if "_" in name:
                continue  # WSGI cannot tell X_Foo from X-Foo: one must not spoof the other
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _respond(self, environ: dict[str, Any]) -> None:
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return written.append

        try:
            result = self.server.app(environ, start_response)
            try:
                written.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as error:  # the application broke: answer, as werkzeug would
            self.log_error("application error: %r", error)
            started[:] = ["500 Internal Server Error", [("Content-Type", "text/plain")]]
            written[:] = [b"Internal Server Error"]
        status, headers = started
        code = int(status.split(" ", 1)[0])
        body = b"".join(written)
        if self.command == "HEAD" or code in (204, 304) or 100 <= code < 200:
            body = b""
        lines = [f"{self.protocol_version} {status}"]
        lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _HOP_BY_HOP]
        if not (code in (204, 304) or 100 <= code < 200):
            length = next(
                (v for n, v in headers if n.lower() == "content-length" and self.command == "HEAD"),
                str(len(body)),
            )
            lines.append(f"Content-Length: {length}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)
        self.wfile.flush()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        del code, size  # the fakes' exchange log and moto's state are the record
