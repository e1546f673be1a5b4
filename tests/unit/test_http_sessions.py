"""A warm poller reuses its connections to each API, and carries nothing over between runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stormwatch.channels.http import Sessions


class _SetsCookies(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen_cookies: list[str | None] = []  # noqa: RUF012 - one test's record

    def do_GET(self) -> None:
        type(self).seen_cookies.append(self.headers.get("Cookie"))
        body = b"{}"
        self.send_response(200)
        self.send_header("Set-Cookie", "tracking=1; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SetsCookies)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_each_channel_keeps_its_session_across_runs_in_a_thread() -> None:
    sessions = Sessions()
    # Given two runs of the same channel in one process / Then they share one session
    assert sessions.get("x") is sessions.get("x")
    # and another channel, or another thread, has its own
    assert sessions.get("x") is not sessions.get("mastodon")
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(sessions.get("x")))
    thread.start()
    thread.join()
    assert other[0] is not sessions.get("x")


def test_a_cookie_an_api_sets_is_not_sent_back(api: str) -> None:
    # Given an API that sets a cookie on every answer
    _SetsCookies.seen_cookies = []
    session = Sessions().get("x")
    # When the channel calls it twice
    session.get(api, timeout=5).raise_for_status()
    session.get(api, timeout=5).raise_for_status()
    # Then the second call carried no cookie from the first
    assert _SetsCookies.seen_cookies == [None, None]
    assert len(session.cookies) == 0
