"""LinkedIn: ``POST /rest/posts`` as the organization, commentary in "little text".

The new post's URN comes back in the ``x-restli-id`` header. LinkedIn has no idempotency
key; an ambiguous outcome is resolved by reading the organization's recent posts
(``GET /rest/posts?q=author``) for the commentary.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.linkedin import (
    RESTLI_PROTOCOL,
    LinkedInClient,
    escape_little_text,
    post_url,
    read_collection,
    restli_leaf,
)
from stormwatch.channels.publishers.base import (
    PublishedPost,
    PublishIntent,
    sending,
    single_shot,
)
from stormwatch.errors import MalformedResponse

CHANNEL = "linkedin"
LOOK_BACK = 20
_SLACK = timedelta(minutes=2)


class _PostingClient(LinkedInClient):
    def __init__(self, context: ChannelContext) -> None:
        super().__init__(context)
        self._single = single_shot(context.http)

    def post(self, resource: str, payload: dict[str, Any]) -> str:
        """Create an entity; its URN from ``x-restli-id``."""
        response = self._single.request(
            "POST",
            f"{self._root}/{resource}",
            json_payload=payload,
            headers={
                "Authorization": f"Bearer {self._bearer()}",
                "LinkedIn-Version": self._version,
                "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
            },
            throttle=self._read_error,
        )
        urn = response.headers.get("x-restli-id", "")
        if not urn.startswith("urn:li:"):
            raise MalformedResponse(CHANNEL, f"POST {resource}: no x-restli-id header with a URN")
        return urn


class LinkedInPublisher:
    channel = CHANNEL

    def __init__(self, context: ChannelContext) -> None:
        self._client = _PostingClient(context)
        self._author = f"urn:li:organization:{context.config.text('organization_id')}"

    def publish(self, text: str, intent: PublishIntent) -> PublishedPost:
        payload = {
            "author": self._author,
            "commentary": escape_little_text(text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        with sending(CHANNEL):
            urn = self._client.post("posts", payload)
        return PublishedPost(CHANNEL, urn, post_url(urn))

    def find(self, text: str, intent: PublishIntent) -> PublishedPost | None:
        wanted = escape_little_text(text)
        answer = read_collection(
            self._client.get(
                "posts",
                [
                    ("q", "author"),
                    ("author", restli_leaf(self._author)),
                    ("sortBy", "LAST_MODIFIED"),
                    ("count", str(LOOK_BACK)),
                ],
            ),
            0,
            "posts",
        )
        since = int((intent.since - _SLACK).timestamp() * 1000)
        for element in answer.elements:
            if not isinstance(element, dict) or element.get("commentary") != wanted:
                continue
            created = element.get("createdAt")
            urn = element.get("id")
            if isinstance(created, int) and created < since:
                continue
            if isinstance(urn, str) and urn.startswith("urn:li:"):
                return PublishedPost(CHANNEL, urn, post_url(urn))
        return None
