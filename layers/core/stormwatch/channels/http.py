"""The HTTP client every adapter uses: timeouts, bounded bodies, typed errors, short retries.

It knows nothing about any one channel. A channel passes a `throttle` function that
reads its own rate-limit signals (429, `x-rate-limit-*`, Facebook's error codes...)
and returns when to try again, or None.

Credentials travel in headers only, and neither headers nor request bodies are ever
put into an error message or a log line.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from stormwatch.deadline import Deadline
from stormwatch.errors import (
    AuthFailed,
    ChannelError,
    ChannelUnavailable,
    MalformedResponse,
    RateLimited,
)

if TYPE_CHECKING:
    import requests
    from requests.structures import CaseInsensitiveDict

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_BACKOFF = timedelta(seconds=60)
USER_AGENT = "stormwatch/0.1 (+https://github.com/stormwatch/stormwatch)"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: CaseInsensitiveDict[str]
    """As requests gives them: `headers["x-rate-limit-reset"]` finds any capitalisation."""
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def excerpt(self, limit: int = 200) -> str:
        """The start of the body for an error message, on one line."""
        return " ".join(self.text[:limit].split())


# Reads a channel's own signals from an answer: returns when to try again if it is being
# throttled, None otherwise; it may also raise a typed error for the channel's error codes
# (Graph's code 190, Bluesky's ExpiredToken...). It runs before the generic status mapping.
Throttle = Callable[[HttpResponse], datetime | None]


def retry_after(response: HttpResponse, now: datetime) -> datetime | None:
    """`Retry-After` as seconds or an HTTP date, if present."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return now + timedelta(seconds=int(value.strip()))
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def json_body(response: HttpResponse, channel: str, *, quote: bool = True) -> Any:
    """The decoded JSON body, or `MalformedResponse` saying what came instead.

    `quote=False` keeps the body out of the message: for answers that carry tokens.
    """
    excerpt = f": {response.excerpt(120)}" if quote else ""
    content_type = response.headers.get("content-type", "")
    if "html" in content_type.lower():
        raise MalformedResponse(channel, f"expected JSON, got HTML ({response.status}){excerpt}")
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedResponse(
            channel, f"invalid JSON ({error.__class__.__name__}){excerpt}"
        ) from None


def safe_url(url: str) -> str:
    """The URL without its query string, for messages (queries may carry search terms)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class Sessions:
    """One `requests` session per channel for the life of the process, so a warm Lambda's
    polls reuse their connections (and TLS sessions) to each API instead of opening new
    ones every run. Per thread, since a session is not made for concurrent use. Cookies
    are refused: the APIs do not use them, and nothing may carry over between runs."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, channel: str) -> requests.Session:
        sessions: dict[str, requests.Session] = self._local.__dict__.setdefault("sessions", {})
        session = sessions.get(channel)
        if session is None:
            from http.cookiejar import DefaultCookiePolicy

            import requests

            session = sessions[channel] = requests.Session()
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        return session


class HttpClient:
    """A `requests` session bound to one channel, a timeout and the invocation's deadline."""

    def __init__(
        self,
        channel: str,
        *,
        timeout: float = 10.0,
        deadline: Deadline | None = None,
        session: requests.Session | None = None,
        retries: int = 1,
        max_bytes: int = DEFAULT_MAX_BYTES,
        user_agent: str = USER_AGENT,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.channel = channel
        self.timeout = timeout
        self.deadline = deadline
        self.retries = retries
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self.now = now
        self._session = session
        self.requests_sent = 0

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _timeout(self) -> float:
        if self.deadline is None:
            return self.timeout
        remaining = self.deadline.remaining()
        if remaining < 1.0:
            raise ChannelUnavailable(self.channel, "no time left in this invocation")
        return min(self.timeout, remaining)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        json_payload: Any = None,
        form: Mapping[str, str] | None = None,
        throttle: Throttle | None = None,
        auth: tuple[str, str] | None = None,
        label: str | None = None,
    ) -> HttpResponse:
        """Send one request; retry timeouts and 5xx briefly; raise a typed error otherwise.

        `label` names the request in messages instead of its URL, for URLs that are
        themselves secrets (a Google Alerts feed).
        """
        shown = label or f"{method} {safe_url(url)}"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, url, params, headers, json_payload, form, auth, shown)
            except ChannelUnavailable:
                if attempt > self.retries or not self._may_retry(attempt):
                    raise
                continue
            if response.status >= 500:
                if attempt <= self.retries and self._may_retry(attempt):
                    continue
                raise ChannelUnavailable(
                    self.channel,
                    f"{shown} -> {response.status}: {response.excerpt()}",
                    status=response.status,
                )
            self._check(shown, response, throttle)
            return response

    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        throttle: Throttle | None = None,
        label: str | None = None,
    ) -> tuple[Any, HttpResponse]:
        response = self.request(
            "GET", url, params=params, headers=headers, throttle=throttle, label=label
        )
        return json_body(response, self.channel), response

    def _may_retry(self, attempt: int) -> bool:
        pause = 0.2 * (2 ** (attempt - 1))
        if self.deadline is not None and not self.deadline.allows(pause + 2.0):
            return False
        time.sleep(pause)
        return True

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None,
        headers: Mapping[str, str] | None,
        json_payload: Any,
        form: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
        shown: str,
    ) -> HttpResponse:
        import requests
        import urllib3
        from requests.structures import CaseInsensitiveDict

        merged = {"User-Agent": self.user_agent, "Accept": "application/json"}
        merged.update(headers or {})
        self.requests_sent += 1
        # One deadline for the whole request: requests' read timeout applies to each read,
        # so a server dripping a byte every few seconds would otherwise never time out.
        allowed = self._timeout()
        until = time.monotonic() + allowed
        try:
            with self.session.request(
                method,
                url,
                params=params,
                headers=merged,
                json=json_payload,
                data=form,
                auth=auth,
                timeout=(min(3.05, allowed), allowed),
                stream=True,
                allow_redirects=True,
            ) as raw:
                body = self._read(raw, shown, until)
                return HttpResponse(
                    raw.status_code, CaseInsensitiveDict(raw.headers), body, raw.url
                )
        except (requests.Timeout, TimeoutError):
            raise ChannelUnavailable(self.channel, f"{shown} timed out") from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            if isinstance(error, urllib3.exceptions.ReadTimeoutError):
                raise ChannelUnavailable(self.channel, f"{shown} timed out") from None
            raise ChannelUnavailable(
                self.channel, f"{shown} failed: {error.__class__.__name__}"
            ) from None

    def _read(self, raw: requests.Response, shown: str, until: float) -> bytes:
        """The body, read as it comes (`read1`: whatever one receive brings, so the clock
        is checked between receives), each receive waiting no longer than the time left."""
        stream = raw.raw
        connection = getattr(stream, "connection", None)
        chunks: list[bytes] = []
        size = 0
        while True:
            left = until - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock = getattr(connection, "sock", None)
            if sock is not None:
                sock.settimeout(left)
            chunk = stream.read1(65536, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_bytes:
                raise MalformedResponse(
                    self.channel, f"{shown}: response larger than {self.max_bytes} bytes"
                )
            chunks.append(chunk)

    def _check(self, shown: str, response: HttpResponse, throttle: Throttle | None) -> None:
        now = self.now()
        if throttle is not None:
            until = throttle(response)
            if until is not None:
                raise RateLimited(self.channel, until, f"({response.status} {shown})")
        if response.status == 429:
            until = retry_after(response, now) or now + DEFAULT_BACKOFF
            raise RateLimited(self.channel, until, f"(429 {shown})")
        if response.status in (401, 403):
            raise AuthFailed(
                self.channel,
                f"{shown} -> {response.status}: {response.excerpt()}",
                status=response.status,
            )
        if response.status >= 400:
            raise ChannelError(
                self.channel,
                f"{shown} -> {response.status}: {response.excerpt()}",
                status=response.status,
            )
