"""X: ``POST /2/tweets`` with the account's OAuth 2.0 user token (``tweet.write``).

X has no idempotency key; the same text twice answers 403 "duplicate content". So an
ambiguous outcome is resolved by reading the account's own recent posts
(``GET /2/users/:id/tweets`` since the intent was recorded) for the text, and a duplicate
refusal is taken as "it is there" only when that lookup finds it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from stormwatch.channels.base import ChannelContext, required_credential
from stormwatch.channels.http import DEFAULT_BACKOFF, HttpResponse, json_body, retry_after
from stormwatch.channels.publishers.base import (
    PublishedPost,
    PublishFailed,
    PublishIntent,
    sending,
    single_shot,
)
from stormwatch.errors import AuthFailed, MalformedResponse

CHANNEL = "x"
CREDENTIAL = "user_access_token"
TWEETS = "/2/tweets"
MAX_PAGES = 5
# The account's clock and ours differ; look a little before the intent.
_SLACK = timedelta(minutes=2)


class _Duplicate(Exception):
    """403 "duplicate content": a post with this text exists on the account."""


class XPublisher:
    channel = CHANNEL

    def __init__(self, context: ChannelContext) -> None:
        self._context = context
        self._http = single_shot(context.http)
        self._base = context.config.base_url.rstrip("/")
        self._user_id = context.config.text("account_id")

    def publish(self, text: str, intent: PublishIntent) -> PublishedPost:
        try:
            with sending(CHANNEL):
                response = self._http.request(
                    "POST",
                    self._base + TWEETS,
                    headers=self._headers(),
                    json_payload={"text": text},
                    throttle=_read_post_signals,
                )
                body = json_body(response, CHANNEL)
                data = body.get("data") if isinstance(body, dict) else None
                post_id = data.get("id") if isinstance(data, dict) else None
                if not isinstance(post_id, str) or not post_id.isdigit():
                    raise MalformedResponse(CHANNEL, "POST /2/tweets: answer has no data.id")
        except _Duplicate:
            found = self.find(text, intent)
            if found is None:
                raise PublishFailed(
                    CHANNEL,
                    "X refuses the text as a duplicate of an older post: change the text",
                    retryable=False,
                    status=403,
                ) from None
            return found
        return _post(post_id)

    def find(self, text: str, intent: PublishIntent) -> PublishedPost | None:
        wanted = _comparable(text)
        params: dict[str, str] = {
            "max_results": "100",
            "tweet.fields": "created_at,entities",
            "start_time": _x_time(intent.since - _SLACK),
        }
        for _ in range(MAX_PAGES):
            body, _response = self._context.http.get_json(
                f"{self._base}/2/users/{self._user_id}/tweets",
                params=params,
                headers=self._headers(),
                throttle=_read_post_signals,
            )
            if not isinstance(body, dict) or not isinstance(body.get("meta"), dict):
                raise MalformedResponse(CHANNEL, "user tweets: the answer has no 'meta' object")
            for tweet in body.get("data") or []:
                if isinstance(tweet, dict) and _comparable(_shown_text(tweet)) == wanted:
                    post_id = tweet.get("id")
                    if isinstance(post_id, str) and post_id.isdigit():
                        return _post(post_id)
            token = body["meta"].get("next_token")
            if not isinstance(token, str) or not token:
                return None
            params["pagination_token"] = token
        return None

    def _headers(self) -> dict[str, str]:
        token = required_credential(self._context.credentials(), CHANNEL, CREDENTIAL)
        return {"Authorization": f"Bearer {token}"}


def _post(post_id: str) -> PublishedPost:
    return PublishedPost(CHANNEL, post_id, f"https://x.com/i/web/status/{post_id}")


def _shown_text(tweet: Mapping[str, Any]) -> str:
    """The text as written: X escapes &, < and > and shortens links to t.co."""
    text = tweet.get("text")
    if not isinstance(text, str):
        return ""
    entities = tweet.get("entities")
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for url in urls if isinstance(urls, list) else []:
        if isinstance(url, dict):
            short, expanded = url.get("url"), url.get("expanded_url")
            if isinstance(short, str) and isinstance(expanded, str) and short:
                text = text.replace(short, expanded)
    return html.unescape(text)


def _comparable(text: str) -> str:
    return " ".join(text.split())


def _x_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_post_signals(response: HttpResponse) -> datetime | None:
    now = datetime.now(UTC)
    if response.status == 429:
        reset = response.headers.get("x-rate-limit-reset", "").strip()
        if reset.isascii() and reset.isdigit():
            return datetime.fromtimestamp(int(reset), tz=UTC)
        return retry_after(response, now) or now + DEFAULT_BACKOFF
    if response.status == 403:
        detail = _detail(response)
        if "duplicate" in detail.casefold():
            raise _Duplicate
        raise AuthFailed(CHANNEL, f"access refused (403): {detail}", status=403)
    return None


def _detail(response: HttpResponse) -> str:
    try:
        body = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return response.excerpt(120)
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return " ".join(body["detail"].split())[:200]
    return response.excerpt(120)
