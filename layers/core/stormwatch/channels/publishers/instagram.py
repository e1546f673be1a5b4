"""Instagram: a media container (``POST /{ig-user-id}/media`` with ``image_url`` and
``caption``), then ``POST /{ig-user-id}/media_publish`` with its ``creation_id``.

Instagram posts no text alone: the statement goes as an image card whose public URL the
intent carries, or the channel is skipped before the release (``act.instagram: skip``).
A container that was made but never published is harmless (Instagram drops it after a
day), so only ``media_publish`` is the point of no return; an ambiguous outcome there is
resolved by reading the account's media since the intent for the caption.
"""

from __future__ import annotations

from datetime import timedelta

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.graph import graph_time, read_page
from stormwatch.channels.publishers.base import (
    PublishedPost,
    PublishFailed,
    PublishIntent,
    sending,
)
from stormwatch.channels.publishers.graph import GraphWriter, graph_id
from stormwatch.errors import ChannelError

CHANNEL = "instagram"
CREDENTIAL = "access_token"
MAX_PAGES = 3
_SLACK = timedelta(minutes=2)


class InstagramPublisher:
    channel = CHANNEL

    def __init__(self, context: ChannelContext) -> None:
        self._graph = GraphWriter(context, credential=CREDENTIAL)
        self._account = context.config.text("business_account_id")

    def publish(self, text: str, intent: PublishIntent) -> PublishedPost:
        if not intent.image_url:
            raise PublishFailed(
                CHANNEL,
                "Instagram posts no text alone and no image card was given",
                retryable=False,
            )
        with sending(CHANNEL):
            container = self._graph.post(
                f"{self._account}/media", {"image_url": intent.image_url, "caption": text}
            )
        creation_id = graph_id(container, CHANNEL, "POST media")
        with sending(CHANNEL):
            published = self._graph.post(
                f"{self._account}/media_publish", {"creation_id": creation_id}
            )
            media_id = graph_id(published, CHANNEL, "POST media_publish")
        return PublishedPost(CHANNEL, media_id, self._permalink(media_id))

    def find(self, text: str, intent: PublishIntent) -> PublishedPost | None:
        wanted = " ".join(text.split())
        params = {"fields": "id,caption,timestamp,permalink", "limit": "50"}
        path = f"{self._account}/media"
        for _ in range(MAX_PAGES):
            items, after = read_page(self._graph.get(path, params), CHANNEL, path)
            for item in items:
                caption = item.get("caption") if isinstance(item, dict) else None
                if not isinstance(caption, str) or " ".join(caption.split()) != wanted:
                    continue
                try:
                    if graph_time(item.get("timestamp")) < intent.since - _SLACK:
                        return None  # newest first: an older post with the same caption
                except ValueError:
                    pass
                media_id = graph_id(item, CHANNEL, "media")
                permalink = item.get("permalink")
                return PublishedPost(
                    CHANNEL, media_id, permalink if isinstance(permalink, str) else ""
                )
            if after is None:
                return None
            params["after"] = after
        return None

    def _permalink(self, media_id: str) -> str:
        """The post's link; the post exists whether or not this lookup works."""
        try:
            permalink = self._graph.get(media_id, {"fields": "permalink"}).get("permalink")
        except ChannelError:
            return ""
        return permalink if isinstance(permalink, str) else ""
