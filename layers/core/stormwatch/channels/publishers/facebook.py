"""Facebook Page: ``POST /{page-id}/feed`` with ``message`` and the Page access token.

Graph has no idempotency key for Page posts; an ambiguous outcome is resolved by reading
the Page's published posts since the intent (``GET /{page-id}/published_posts``) for the
message.
"""

from __future__ import annotations

from datetime import timedelta

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.graph import read_page
from stormwatch.channels.publishers.base import (
    PublishedPost,
    PublishIntent,
    sending,
)
from stormwatch.channels.publishers.graph import GraphWriter, graph_id

CHANNEL = "facebook"
CREDENTIAL = "page_access_token"
MAX_PAGES = 5
_SLACK = timedelta(minutes=2)


class FacebookPublisher:
    channel = CHANNEL

    def __init__(self, context: ChannelContext) -> None:
        self._graph = GraphWriter(context, credential=CREDENTIAL)
        self._page_id = context.config.text("page_id")

    def publish(self, text: str, intent: PublishIntent) -> PublishedPost:
        with sending(CHANNEL):
            answer = self._graph.post(f"{self._page_id}/feed", {"message": text})
            return _post(graph_id(answer, CHANNEL, "POST feed"))

    def find(self, text: str, intent: PublishIntent) -> PublishedPost | None:
        wanted = " ".join(text.split())
        params = {
            "fields": "id,message,created_time,permalink_url",
            "since": str(int((intent.since - _SLACK).timestamp())),
            "limit": "100",
        }
        path = f"{self._page_id}/published_posts"
        for _ in range(MAX_PAGES):
            items, after = read_page(self._graph.get(path, params), CHANNEL, path)
            for item in items:
                message = item.get("message") if isinstance(item, dict) else None
                if isinstance(message, str) and " ".join(message.split()) == wanted:
                    return _post(graph_id(item, CHANNEL, "published_posts"))
            if after is None:
                return None
            params["after"] = after
        return None


def _post(post_id: str) -> PublishedPost:
    return PublishedPost(CHANNEL, post_id, f"https://www.facebook.com/{post_id}")
