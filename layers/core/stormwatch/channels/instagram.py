"""Instagram (Graph API via the brand's Instagram business account).

Instagram has no search and no "mentions of a brand name" feed; through a business
account the Graph API offers two ways in, and both are read:

``hashtag:<tag>`` (one per brand hashtag in the config, lowercased: Instagram hashtags
    are case-insensitive)
    ``GET /ig_hashtag_search?user_id=<ig id>&q=<tag>`` finds the hashtag's id, then
    ``GET /{hashtag-id}/recent_media?user_id=<ig id>&fields=...`` lists public media
    tagged with it in the last 24 hours, newest first. An account may query at most
    30 *unique* hashtags per rolling 7 days, so the id is looked up once and kept in
    the cursor (``{"hashtag_id", "listing"}``), never searched again while it works.
    Hashtag media carry no author (Meta does not expose ``username`` there).
``mentioned:<ig id>``
    ``GET /{ig-user-id}/tags``: media the business account is tagged in, newest first.

Cursor rule: neither edge takes ``since``, so each is a newest-first chain over
``timestamp`` positions that stops client-side at the watermark (with an `OVERLAP`
for media indexed late). Because recent_media reaches back only 24 hours, a source
that could not poll for longer than that loses what fell out of the window; there is
no other way to read it.

Captions are optional on Instagram. Media without one is still a mention - the
source itself says it carries the brand's hashtag or tags the brand - so it is kept
with empty text rather than dropped. The matcher sees only text, so today such a
mention counts for no brand; a brand hint on `Mention`, set by the source that knows
the brand, would let it count.

Throttling, auth and errors are the Graph API's (`stormwatch.channels.graph`);
engagement is ``like_count + comments_count``; reach and language are not exposed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from stormwatch.channels.base import ChannelContext, Cursor, MentionSource, Page, text_field
from stormwatch.channels.chains import newest_first_pages, position_of_time
from stormwatch.channels.graph import (
    GraphClient,
    Listed,
    count,
    graph_time,
    listing,
    read_page,
)
from stormwatch.errors import MalformedResponse
from stormwatch.model import Mention
from stormwatch.text import clean_text

CHANNEL = "instagram"
CREDENTIAL = "access_token"
OVERLAP = timedelta(minutes=10)
GRAPH_MAX_LIMIT = 50

HASHTAG_MEDIA_FIELDS = "id,caption,media_type,permalink,timestamp,like_count,comments_count"
TAGGED_MEDIA_FIELDS = f"{HASHTAG_MEDIA_FIELDS},username"


def mention_sources(context: ChannelContext) -> list[MentionSource]:
    config = context.config
    account = config.text("business_account_id")
    client = GraphClient(context, credential=CREDENTIAL)
    limit = str(min(config.page_size, GRAPH_MAX_LIMIT))
    hashtags = dict.fromkeys(tag.lower() for brand in context.brands for tag in brand.hashtags)
    sources: list[MentionSource] = [
        HashtagSource(client, account, hashtag, limit) for hashtag in hashtags
    ]
    sources.append(TaggedSource(client, account, limit))
    return sources


def _parse_media(item: Mapping[str, Any]) -> Listed:
    media_id = item["id"]
    if not isinstance(media_id, str) or not media_id:
        raise TypeError("id is not a string")
    created = graph_time(item["timestamp"])
    mention = Mention(
        channel=CHANNEL,
        id=media_id,
        url=text_field(item, "permalink"),
        author=text_field(item, "username"),
        text=clean_text(text_field(item, "caption")),
        created_at=created,
        language=None,
        reach=0,
        engagement=count(item, "like_count") + count(item, "comments_count"),
    )
    return Listed(position_of_time(created), mention)


class HashtagSource:
    """Recent public media with one of the brand's hashtags."""

    def __init__(self, client: GraphClient, account: str, hashtag: str, limit: str) -> None:
        self.channel = CHANNEL
        self.key = f"hashtag:{hashtag}"
        self._client = client
        self._account = account
        self._hashtag = hashtag
        self._limit = limit

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        hashtag_id = cursor.get("hashtag_id") if cursor else None
        listing_cursor = cursor.get("listing") if cursor else None
        if not isinstance(hashtag_id, str):
            hashtag_id = self._search()
            if hashtag_id is None:
                return
            # Keep the id even if the listing fails next: each lookup spends the weekly quota.
            yield Page([], {"hashtag_id": hashtag_id, "listing": listing_cursor})
        fetch = listing(
            self._client,
            f"{hashtag_id}/recent_media",
            {"user_id": self._account, "fields": HASHTAG_MEDIA_FIELDS, "limit": self._limit},
            _parse_media,
            time_filter=False,
        )
        for page in newest_first_pages(
            listing_cursor, position_of_time(start), fetch, overlap=OVERLAP
        ):
            yield Page(page.mentions, {"hashtag_id": hashtag_id, "listing": page.cursor})

    def _search(self) -> str | None:
        """The hashtag's id, or None while nobody has used it yet."""
        payload = self._client.get(
            "ig_hashtag_search", {"user_id": self._account, "q": self._hashtag}
        )
        found, _after = read_page(payload, CHANNEL, "ig_hashtag_search")
        if not found:
            return None
        first = found[0]
        hashtag_id = first.get("id") if isinstance(first, dict) else None
        if not isinstance(hashtag_id, str) or not hashtag_id:
            raise MalformedResponse(CHANNEL, "ig_hashtag_search: result without an id")
        return hashtag_id


class TaggedSource:
    """Media the business account is tagged in."""

    def __init__(self, client: GraphClient, account: str, limit: str) -> None:
        self.channel = CHANNEL
        self.key = f"mentioned:{account}"
        self._client = client
        self._account = account
        self._limit = limit

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        fetch = listing(
            self._client,
            f"{self._account}/tags",
            {"fields": TAGGED_MEDIA_FIELDS, "limit": self._limit},
            _parse_media,
            time_filter=False,
        )
        return newest_first_pages(cursor, position_of_time(start), fetch, overlap=OVERLAP)
