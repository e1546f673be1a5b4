"""Mastodon: ``POST /api/v1/statuses`` with an ``Idempotency-Key``.

Mastodon answers a repeated key with the status the first request made (for as long as
the instance keeps keys, an hour by default), so a retry after a timeout is safe by
itself. `find` still looks at the account's own statuses, for a retry after the key's
lifetime: a key the instance has forgotten would post again.
"""

from __future__ import annotations

from typing import Any

from stormwatch.channels.base import ChannelContext, required_credential
from stormwatch.channels.http import DEFAULT_BACKOFF, HttpResponse, json_body, retry_after
from stormwatch.channels.publishers.base import (
    PublishedPost,
    PublishIntent,
    sending,
    single_shot,
)
from stormwatch.errors import MalformedResponse
from stormwatch.model import parse_iso_or_none
from stormwatch.text import strip_markup

CHANNEL = "mastodon"
CREDENTIAL = "access_token"
STATUSES = "/api/v1/statuses"


class MastodonPublisher:
    channel = CHANNEL

    def __init__(self, context: ChannelContext, *, language: str | None = None) -> None:
        self._context = context
        self._http = single_shot(context.http)
        self._base = context.config.base_url.rstrip("/")
        self._language = language

    def publish(self, text: str, intent: PublishIntent) -> PublishedPost:
        payload: dict[str, Any] = {"status": text, "visibility": "public"}
        if self._language:
            payload["language"] = self._language
        with sending(CHANNEL):
            response = self._http.request(
                "POST",
                self._base + STATUSES,
                headers={**self._headers(), "Idempotency-Key": intent.key},
                json_payload=payload,
                throttle=self._signals,
            )
            return _status_post(json_body(response, CHANNEL))

    def find(self, text: str, intent: PublishIntent) -> PublishedPost | None:
        account, _ = self._context.http.get_json(
            self._base + "/api/v1/accounts/verify_credentials",
            headers=self._headers(),
            throttle=self._signals,
        )
        account_id = account.get("id") if isinstance(account, dict) else None
        if not isinstance(account_id, str) or not account_id:
            raise MalformedResponse(CHANNEL, "verify_credentials: the answer has no id")
        statuses, _ = self._context.http.get_json(
            f"{self._base}/api/v1/accounts/{account_id}/statuses",
            params={"limit": "40", "exclude_replies": "true", "exclude_reblogs": "true"},
            headers=self._headers(),
            throttle=self._signals,
        )
        if not isinstance(statuses, list):
            raise MalformedResponse(CHANNEL, "account statuses: expected a JSON array")
        wanted = _comparable(text)
        for status in statuses:
            if not isinstance(status, dict) or not isinstance(status.get("content"), str):
                continue
            created = parse_iso_or_none(status.get("created_at"))
            if created is not None and created < intent.since.replace(microsecond=0):
                break  # newest first: everything below is older than the release
            if _comparable(strip_markup(status["content"])) == wanted:
                return _status_post(status)
        return None

    def _headers(self) -> dict[str, str]:
        token = required_credential(self._context.credentials(), CHANNEL, CREDENTIAL)
        return {"Authorization": f"Bearer {token}"}

    def _signals(self, response: HttpResponse) -> Any:
        if response.status != 429:
            return None
        now = self._context.now()
        reset = parse_iso_or_none(response.headers.get("x-ratelimit-reset"))
        return reset or retry_after(response, now) or now + DEFAULT_BACKOFF


def _status_post(body: Any) -> PublishedPost:
    status_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(status_id, str) or not status_id:
        raise MalformedResponse(CHANNEL, "POST /api/v1/statuses: the answer has no status id")
    url = body.get("url") or body.get("uri")
    return PublishedPost(CHANNEL, status_id, url if isinstance(url, str) else "")


def _comparable(text: str) -> str:
    return " ".join(text.split())
