"""A Facebook Page's scheduled posts, parked and restored (Graph API, the Page token).

- List: ``GET /{page-id}/scheduled_posts`` (Graph's cursor paging, ``after``).
- Cancel: ``DELETE /{post-id}`` (answers ``{"success": true}``; an id that no longer
  exists is Graph's code 100 / subcode 33: gone already).
- Restore: ``POST /{page-id}/feed`` with ``published=false`` and
  ``scheduled_publish_time`` (unix seconds, 10 minutes to 30 days ahead, else code 100
  "invalid scheduled publish time"), the message and the link. Graph has no idempotency
  key, so `find_recreated` looks for the post (same text, same time) before a retry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from stormwatch.channels.base import ChannelContext, text_field
from stormwatch.channels.graph import (
    INVALID_PARAMETER,
    GraphClient,
    graph_error,
    parse_items,
    read_page,
)
from stormwatch.channels.http import HttpResponse, json_body
from stormwatch.channels.schedulers.base import (
    ScheduledPost,
    TooSoon,
    as_utc,
    recreated_among,
    without_retries,
)
from stormwatch.errors import ChannelError, MalformedResponse

logger = logging.getLogger(__name__)

NAME = "facebook"
CREDENTIAL = "page_access_token"
FIELDS = "id,message,link,scheduled_publish_time,created_time"
PAGE_LIMIT = 100
MINIMUM_LEAD = timedelta(minutes=10)
MAX_PAGES = 100
# Graph's "object does not exist" (Unsupported get/delete request).
NO_SUCH_OBJECT = 33


class _Gone(Exception):
    pass


class _GraphWriter(GraphClient):
    """GraphClient's auth, quota and error reading, for the writes parking needs."""

    def send(self, method: str, path: str, form: Mapping[str, str] | None = None) -> dict[str, Any]:
        self._wait_for_quota()

        def throttle(answer: HttpResponse) -> datetime | None:
            error = graph_error(answer)
            if error is not None and error.code == INVALID_PARAMETER:
                if error.subcode == NO_SUCH_OBJECT:
                    raise _Gone
                if "schedul" in error.message.casefold():
                    raise TooSoon(NAME, f"Graph error 100: {error.message}", status=answer.status)
            return self._read_error(answer, paged=False)

        http = without_retries(self._context.http) if method == "POST" else self._context.http
        response = http.request(
            method,
            f"{self._root}/{quote(path, safe='/_')}",
            headers={"Authorization": f"Bearer {self._bearer()}"},
            form=form,
            throttle=throttle,
        )
        payload = json_body(response, NAME)
        if not isinstance(payload, dict):
            raise MalformedResponse(NAME, f"{method} {path}: expected a JSON object")
        return payload


class FacebookScheduler:
    name = NAME
    minimum_lead = MINIMUM_LEAD

    def __init__(self, context: ChannelContext) -> None:
        self._page_id = context.config.text("page_id")
        self._graph = _GraphWriter(context, credential=CREDENTIAL)

    def scheduled(self) -> Sequence[ScheduledPost]:
        path = f"{self._page_id}/scheduled_posts"
        query = {"fields": FIELDS, "limit": str(PAGE_LIMIT)}
        found: list[ScheduledPost] = []
        for _ in range(MAX_PAGES):
            raw, after = read_page(self._graph.get(path, query), NAME, path)
            found.extend(parse_items(raw, _post, NAME, path))
            if after is None:
                return found
            if after == query.get("after"):
                raise MalformedResponse(NAME, f"{path}: the next page is this page")
            query["after"] = after
        raise MalformedResponse(NAME, f"{path}: more than {MAX_PAGES} pages")

    def cancel(self, post: ScheduledPost) -> None:
        try:
            answer = self._graph.send("DELETE", post.id)
        except _Gone:
            return
        if answer.get("success") is not True:
            raise ChannelError(NAME, f"DELETE {post.id}: not confirmed")

    def recreate(self, post: ScheduledPost, at: datetime) -> str:
        form = {
            "message": post.text,
            "published": "false",
            "scheduled_publish_time": str(int(as_utc(at).timestamp())),
        }
        link = post.details.get("link")
        if isinstance(link, str) and link:
            form["link"] = link
        try:
            answer = self._graph.send("POST", f"{self._page_id}/feed", form)
        except _Gone:
            raise ChannelError(NAME, f"page {self._page_id} not found") from None
        created = answer.get("id")
        if not isinstance(created, str) or not created:
            raise MalformedResponse(NAME, "POST feed: the answer has no id")
        return created

    def find_recreated(self, post: ScheduledPost, at: datetime) -> str | None:
        return recreated_among(self.scheduled(), post, at)


def _post(item: Mapping[str, Any]) -> ScheduledPost:
    post_id = item["id"]
    if not isinstance(post_id, str) or not post_id:
        raise TypeError("id is not a string")
    when = item["scheduled_publish_time"]
    if isinstance(when, bool) or not isinstance(when, int):
        raise TypeError("scheduled_publish_time is not unix seconds")
    link = text_field(item, "link")
    return ScheduledPost(
        scheduler=NAME,
        id=post_id,
        scheduled_at=datetime.fromtimestamp(when, tz=UTC),
        text=text_field(item, "message"),
        details={"link": link} if link else {},
    )
