"""Hootsuite's scheduled messages, parked and restored (REST API v1, an OAuth2 bearer token).

- List: ``GET /v1/messages?state=SCHEDULED&startTime=&endTime=``. The window is bounded
  (at most 4 weeks a request), so the listing walks window by window from now to
  `horizon_days` ahead, each window page by page (``cursor`` / ``cursor.next``);
  messages are deduplicated by id across windows.
- Cancel: ``DELETE /v1/messages/{id}`` (404: gone already).
- Restore: ``POST /v1/messages`` with ``text``, ``socialProfileIds`` (the one profile it
  was for: Hootsuite lists one message per profile), ``scheduledSendTime`` and its media.
  No idempotency key, so `find_recreated` looks for it before a retry.

Answers wrap in ``{"data": ...}``; errors are ``{"errors": [{"code", "message"}]}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from stormwatch.channels.base import parse_each, required_credential, text_field
from stormwatch.channels.http import HttpClient, json_body
from stormwatch.channels.schedulers.base import (
    ScheduledPost,
    TooSoon,
    as_utc,
    item_label,
    recreated_among,
    without_retries,
)
from stormwatch.config.act import HootsuiteScheduler as HootsuiteSettings
from stormwatch.errors import ChannelError, MalformedResponse
from stormwatch.model import iso, parse_iso

logger = logging.getLogger(__name__)

NAME = "hootsuite"
MESSAGES_PATH = "/v1/messages"
WINDOW = timedelta(weeks=4)
PAGE_LIMIT = 100
MINIMUM_LEAD = timedelta(minutes=5)
MAX_PAGES_PER_WINDOW = 100


class HootsuiteScheduler:
    name = NAME
    minimum_lead = MINIMUM_LEAD

    def __init__(
        self,
        settings: HootsuiteSettings,
        http: HttpClient,
        credentials: Callable[[], Mapping[str, str]],
        now: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._root = settings.base_url.rstrip("/")
        self._http = http
        self._credentials = credentials
        self._now = now

    def scheduled(self) -> Sequence[ScheduledPost]:
        start = as_utc(self._now()).replace(microsecond=0)
        end = start + timedelta(days=self._settings.horizon_days)
        found: dict[str, ScheduledPost] = {}
        while start < end:
            window_end = min(start + WINDOW, end)
            for post in self._window(start, window_end):
                found.setdefault(post.id, post)
            start = window_end
        return list(found.values())

    def _window(self, start: datetime, end: datetime) -> list[ScheduledPost]:
        params: list[tuple[str, str]] = [
            ("state", "SCHEDULED"),
            ("startTime", iso(start)),
            ("endTime", iso(end)),
            ("limit", str(PAGE_LIMIT)),
        ]
        params.extend(("socialProfileIds", pid) for pid in self._settings.social_profile_ids)
        found: list[ScheduledPost] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES_PER_WINDOW):
            query = [*params, ("cursor", cursor)] if cursor else params
            body, _response = self._http.get_json(
                self._root + MESSAGES_PATH, params=query, headers=self._auth()
            )
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise MalformedResponse(NAME, f"{MESSAGES_PATH}: the answer has no 'data' list")
            found.extend(
                parse_each(
                    data,
                    _post,
                    logger=logger,
                    channel=NAME,
                    what="message",
                    noun="item",
                    label=item_label,
                )
            )
            following = _next_cursor(body)
            if not data or following is None:
                return found
            if following == cursor:
                raise MalformedResponse(NAME, f"{MESSAGES_PATH}: the next page is this page")
            cursor = following
        raise MalformedResponse(NAME, f"{MESSAGES_PATH}: more than {MAX_PAGES_PER_WINDOW} pages")

    def cancel(self, post: ScheduledPost) -> None:
        try:
            self._http.request(
                "DELETE",
                f"{self._root}{MESSAGES_PATH}/{quote(post.id, safe='')}",
                headers=self._auth(),
            )
        except ChannelError as error:
            if error.status == 404:
                return
            raise

    def recreate(self, post: ScheduledPost, at: datetime) -> str:
        profile = post.details.get("social_profile_id")
        if not isinstance(profile, str) or not profile:
            raise ChannelError(NAME, f"message {post.id} was saved without its social profile")
        payload: dict[str, Any] = {
            "text": post.text,
            "socialProfileIds": [profile],
            "scheduledSendTime": iso(as_utc(at)),
        }
        for saved, field in (("media", "media"), ("media_urls", "mediaUrls"), ("tags", "tags")):
            if post.details.get(saved):
                payload[field] = post.details[saved]
        try:
            response = without_retries(self._http).request(
                "POST", self._root + MESSAGES_PATH, headers=self._auth(), json_payload=payload
            )
        except ChannelError as error:
            if error.status == 400 and "scheduledsendtime" in str(error).casefold():
                raise TooSoon(NAME, f"scheduledSendTime refused: {error}", status=400) from None
            raise
        body = json_body(response, NAME)
        data = body.get("data") if isinstance(body, dict) else None
        first = data[0] if isinstance(data, list) and data else None
        created = first.get("id") if isinstance(first, dict) else None
        if not isinstance(created, str) or not created:
            raise MalformedResponse(NAME, f"POST {MESSAGES_PATH}: the answer has no message id")
        return created

    def find_recreated(self, post: ScheduledPost, at: datetime) -> str | None:
        return recreated_among(self.scheduled(), post, at, same="social_profile_id")

    def _auth(self) -> dict[str, str]:
        token = required_credential(self._credentials(), NAME, "access_token")
        return {"Authorization": f"Bearer {token}"}


def _next_cursor(body: Mapping[str, Any]) -> str | None:
    cursor = body.get("cursor")
    following = cursor.get("next") if isinstance(cursor, dict) else None
    if following is None or following == "":
        return None
    if not isinstance(following, str):
        raise MalformedResponse(NAME, f"{MESSAGES_PATH}: 'cursor.next' is not a string")
    return following


def _post(item: Mapping[str, Any]) -> ScheduledPost:
    post_id = item["id"]
    if not isinstance(post_id, str) or not post_id:
        raise TypeError("id is not a string")
    profile = item["socialProfile"]
    if not isinstance(profile, dict) or not isinstance(profile.get("id"), str):
        raise TypeError("socialProfile has no id")
    details: dict[str, Any] = {"social_profile_id": profile["id"]}
    media = item.get("media") or []
    if not isinstance(media, list):
        raise TypeError("media is not a list")
    if media:
        details["media"] = [{"id": str(m["id"])} for m in media if isinstance(m, dict)]
    media_urls = item.get("mediaUrls") or []
    if not isinstance(media_urls, list):
        raise TypeError("mediaUrls is not a list")
    if media_urls:
        details["media_urls"] = [{"url": str(m["url"])} for m in media_urls if isinstance(m, dict)]
    tags = item.get("tags") or []
    if tags:
        details["tags"] = [str(tag) for tag in tags]
    return ScheduledPost(
        scheduler=NAME,
        id=post_id,
        scheduled_at=parse_iso(text_field(item, "scheduledSendTime")),
        text=text_field(item, "text"),
        details=details,
    )
