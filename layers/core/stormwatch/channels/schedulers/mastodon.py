"""Mastodon's scheduled statuses, parked and restored.

- List: ``GET /api/v1/scheduled_statuses`` (40 a page, newest first), next page by the
  ``Link`` header's ``next`` (``max_id``); the post's text is ``params.text``.
- Cancel: ``DELETE /api/v1/scheduled_statuses/:id`` (answers ``{}``; 404: gone already).
- Restore: ``POST /api/v1/statuses`` with ``scheduled_at`` and the saved params, and an
  ``Idempotency-Key`` (Mastodon keeps it for an hour, so `find_recreated` looks too).
  Mastodon wants ``scheduled_at`` at least 5 minutes ahead, else 422.
  (``PUT /api/v1/scheduled_statuses/:id`` could only move a post, not pause it.)

Media: a scheduled status keeps its ``media_ids``; Mastodon removes media attachments
that no status uses after a while (a day by default), so a post parked for longer than
that comes back without them: the saved ``media_attachments`` show what was attached.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from stormwatch.channels.base import ChannelContext, parse_each, required_credential, text_field
from stormwatch.channels.http import json_body
from stormwatch.channels.mastodon import parse_links, read_signals
from stormwatch.channels.schedulers.base import (
    ScheduledPost,
    TooSoon,
    as_utc,
    item_label,
    recreated_among,
    without_retries,
)
from stormwatch.errors import ChannelError, MalformedResponse
from stormwatch.model import iso, parse_iso

logger = logging.getLogger(__name__)

NAME = "mastodon"
LIST_PATH = "/api/v1/scheduled_statuses"
STATUSES_PATH = "/api/v1/statuses"
PAGE_LIMIT = 40
MINIMUM_LEAD = timedelta(minutes=5)
# A safety stop: 40 a page, so 10,000 scheduled statuses; no account has that many.
MAX_PAGES = 250
# The params of a scheduled status that POST /api/v1/statuses takes back as they are.
REPOSTED_PARAMS = (
    "visibility",
    "media_ids",
    "sensitive",
    "spoiler_text",
    "language",
    "in_reply_to_id",
    "poll",
    "quoted_status_id",
    "quote_approval_policy",
)
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


class MastodonScheduler:
    name = NAME
    minimum_lead = MINIMUM_LEAD

    def __init__(self, context: ChannelContext) -> None:
        self._context = context
        self._root = context.config.base_url

    def scheduled(self) -> Sequence[ScheduledPost]:
        found: list[ScheduledPost] = []
        params: dict[str, str] = {"limit": str(PAGE_LIMIT)}
        for _ in range(MAX_PAGES):
            body, response = self._context.http.get_json(
                self._root + LIST_PATH,
                params=params,
                headers=self._auth(),
                throttle=read_signals,
            )
            if not isinstance(body, list):
                raise MalformedResponse(NAME, f"{LIST_PATH}: expected a JSON array")
            found.extend(
                parse_each(
                    body,
                    _post,
                    logger=logger,
                    channel=NAME,
                    what="scheduled status",
                    noun="item",
                    label=item_label,
                )
            )
            max_id = parse_links(response.headers.get("link", "")).get("next", {}).get("max_id")
            if not body or not max_id:
                return found
            if not _ID.fullmatch(max_id) or max_id == params.get("max_id"):
                raise MalformedResponse(NAME, f"{LIST_PATH}: unusable next page {max_id!r}")
            params = {"limit": str(PAGE_LIMIT), "max_id": max_id}
        raise MalformedResponse(NAME, f"{LIST_PATH}: more than {MAX_PAGES} pages")

    def cancel(self, post: ScheduledPost) -> None:
        try:
            response = self._context.http.request(
                "DELETE",
                f"{self._root}{LIST_PATH}/{quote(post.id, safe='')}",
                headers=self._auth(),
                throttle=read_signals,
            )
        except ChannelError as error:
            if error.status == 404:
                return
            raise
        json_body(response, NAME)

    def recreate(self, post: ScheduledPost, at: datetime) -> str:
        payload: dict[str, Any] = {"status": post.text, "scheduled_at": iso(as_utc(at))}
        payload.update(
            (name, post.details[name])
            for name in REPOSTED_PARAMS
            if post.details.get(name) is not None
        )
        try:
            response = without_retries(self._context.http).request(
                "POST",
                self._root + STATUSES_PATH,
                headers={**self._auth(), "Idempotency-Key": post.restore_key()},
                json_payload=payload,
                throttle=read_signals,
            )
        except ChannelError as error:
            if error.status == 422 and "schedul" in str(error).casefold():
                raise TooSoon(NAME, f"scheduled_at refused: {error}", status=422) from None
            raise
        body = json_body(response, NAME)
        created = body.get("id") if isinstance(body, dict) else None
        if not isinstance(created, str) or not created:
            raise MalformedResponse(NAME, f"{STATUSES_PATH}: the answer has no id")
        return created

    def find_recreated(self, post: ScheduledPost, at: datetime) -> str | None:
        return recreated_among(self.scheduled(), post, at)

    def _auth(self) -> dict[str, str]:
        token = required_credential(self._context.credentials(), NAME, "access_token")
        return {"Authorization": f"Bearer {token}"}


def _post(item: Mapping[str, Any]) -> ScheduledPost:
    post_id = item["id"]
    if not isinstance(post_id, str) or not post_id:
        raise TypeError("id is not a string")
    params = item["params"]
    if not isinstance(params, dict):
        raise TypeError("params is not an object")
    details = {name: params[name] for name in REPOSTED_PARAMS if params.get(name) is not None}
    media = item.get("media_attachments") or []
    if not isinstance(media, list):
        raise TypeError("media_attachments is not a list")
    details["media_attachments"] = [
        {"id": str(m.get("id", "")), "url": str(m.get("url", ""))}
        for m in media
        if isinstance(m, dict)
    ]
    return ScheduledPost(
        scheduler=NAME,
        id=post_id,
        scheduled_at=parse_iso(text_field(item, "scheduled_at")),
        text=text_field(params, "text"),
        details=details,
    )
