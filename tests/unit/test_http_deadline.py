"""A request has one deadline for all of it: a server that drips its answer cannot hold a
poll longer than the request's time, however often it sends a byte."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stormwatch.channels.http import HttpClient
from stormwatch.errors import ChannelUnavailable

DRIP_BYTES = 30
DRIP_EVERY = 0.1  # seconds: 3 s for the whole body, each read well inside any read timeout


class _Drips(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(DRIP_BYTES))
        self.end_headers()
        try:
            for _ in range(DRIP_BYTES):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(DRIP_EVERY)
        except OSError:  # the client gave up, as it should
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def dripping() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drips)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed"
    server.shutdown()
    server.server_close()


def test_a_server_that_drips_its_answer_times_out_at_the_request_timeout(dripping: str) -> None:
    # Given a server sending one byte every 0.1 s (each read is quick; the whole takes 3 s)
    client = HttpClient("rss", timeout=0.6, retries=0)
    began = time.monotonic()
    # When a request with a 0.6-second timeout reads it
    with pytest.raises(ChannelUnavailable, match="timed out"):
        client.request("GET", dripping)
    # Then it gives up after about that time, not after the last byte
    assert time.monotonic() - began < 1.0
