"""Bluesky: ``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` with facets.

Exactly once: the record key is a TID derived from the publication itself (the time its
first intent was recorded, and a clock id from its key), so every attempt asks to create
the *same* record. A retry after a lost answer is refused as already existing, and
`find` (``com.atproto.repo.getRecord`` under that key) confirms it is our text.

Facets (``app.bsky.richtext.facet``) make links, mentions and tags work in the app; their
ranges are UTF-8 *byte* offsets. A mention's facet carries the account's DID, resolved with
``com.atproto.identity.resolveHandle``; a handle that does not resolve stays plain text
(pre-flight reports it before anyone approves).

The session is the read adapter's: one per process and account, renewed on expiry.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stormwatch.channels.base import ChannelContext, required_credential
from stormwatch.channels.bluesky import (
    API_BUDGET,
    POST_COLLECTION,
    BlueskyAccount,
    BlueskyClient,
    BlueskySession,
    RequestRefused,
    TokenExpired,
    TokenRefused,
)
from stormwatch.channels.http import json_body
from stormwatch.channels.publishers.base import (
    PublishedPost,
    PublishFailed,
    PublishIntent,
    sending,
    single_shot,
)
from stormwatch.errors import MalformedResponse

logger = logging.getLogger(__name__)

CHANNEL = "bluesky"
CREATE_RECORD = "com.atproto.repo.createRecord"
GET_RECORD = "com.atproto.repo.getRecord"
RESOLVE_HANDLE = "com.atproto.identity.resolveHandle"

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_LINK = re.compile(r"https?://[^\s<>\"]+")
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_MENTION = re.compile(rf"(?<![\w@.])@({_LABEL}(?:\.{_LABEL})+)")
_TAG = re.compile(r"(?<![\w#&])[#＃](\w+)")
# A sentence's punctuation after a link is not part of it.
_TRAILING = ".,;:!?)]}'\""


def tid(moment: datetime, clock_id: int) -> str:
    """An AT Protocol TID: 53 bits of microseconds since the epoch, 10 bits of clock id,
    base32-sortable, 13 characters."""
    micros = int(moment.timestamp()) * 1_000_000 + moment.microsecond
    value = (micros << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def record_key(intent: PublishIntent) -> str:
    clock_id = int.from_bytes(hashlib.sha256(intent.key.encode()).digest()[:2], "big") & 0x3FF
    return tid(intent.since, clock_id)


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of the text a facet is about: UTF-8 byte range and what it is."""

    byte_start: int
    byte_end: int
    kind: str  # "link", "mention", "tag"
    value: str  # the URL, the handle, the tag (without '#')


def facet_spans(text: str) -> list[Span]:
    """Links, @handles and #tags of `text` with their UTF-8 byte ranges, in text order."""
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, kind: str, value: str) -> None:
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            return  # a "#" or "@" inside a link belongs to the link
        taken.append((start, end))
        spans.append(Span(len(text[:start].encode()), len(text[:end].encode()), kind, value))

    for match in _LINK.finditer(text):
        url = match.group().rstrip(_TRAILING)
        add(match.start(), match.start() + len(url), "link", url)
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".")
        add(match.start(), match.start() + 1 + len(handle), "mention", handle.lower())
    for match in _TAG.finditer(text):
        tag = match.group(1)
        if not tag.isdigit():
            add(match.start(), match.end(), "tag", tag)
    return sorted(spans, key=lambda span: span.byte_start)


class _PublishingClient(BlueskyClient):
    """The read adapter's client, with the write calls on the same process-wide session."""

    def call(
        self,
        method: str,
        *,
        params: list[tuple[str, str]] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        account = self.account()
        session = self._session(account)
        try:
            return self._send(account, session, method, params, payload)
        except TokenExpired:
            session = self._renew(account, session, refresh=True)
        except TokenRefused:
            session = self._renew(account, session, refresh=False)
        # A refused token means the request was not carried out: sending again is safe.
        return self._send(account, session, method, params, payload)

    def _send(
        self,
        account: BlueskyAccount,
        session: BlueskySession,
        method: str,
        params: list[tuple[str, str]] | None,
        payload: dict[str, Any] | None,
    ) -> Any:
        self._check_budget(account, API_BUDGET)
        response = self.context.http.request(
            "POST" if payload is not None else "GET",
            self._url(method),
            params=params,
            json_payload=payload,
            headers={"Authorization": f"Bearer {session.access_jwt}"},
            throttle=self._signals(account, API_BUDGET, method),
        )
        return json_body(response, CHANNEL)


class BlueskyPublisher:
    channel = CHANNEL

    def __init__(self, context: ChannelContext, *, language: str | None = None) -> None:
        single = ChannelContext(
            context.config,
            context.brands,
            single_shot(context.http),
            context.credentials,
            context.now,
        )
        self._context = context
        self._client = _PublishingClient(single)
        self._language = language
        self._dids: dict[str, str | None] = {}

    def publish(self, text: str, intent: PublishIntent) -> PublishedPost:
        repo = self.repo()
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": _iso_millis(self._context.now()),
        }
        if self._language:
            record["langs"] = [self._language]
        facets = self.facets(text)
        if facets:
            record["facets"] = facets
        payload = {
            "repo": repo,
            "collection": POST_COLLECTION,
            "rkey": record_key(intent),
            "record": record,
        }
        with sending(CHANNEL):
            try:
                body = self._client.call(CREATE_RECORD, payload=payload)
            except RequestRefused as refused:
                if "already exist" not in str(refused).casefold():
                    raise
                found = self.find(text, intent)
                if found is None:
                    raise PublishFailed(
                        CHANNEL,
                        f"record {payload['rkey']} exists with another text",
                        retryable=False,
                    ) from None
                return found
            return _created(body)

    def find(self, text: str, intent: PublishIntent) -> PublishedPost | None:
        rkey = record_key(intent)
        try:
            body = self._client.call(
                GET_RECORD,
                params=[("repo", self.repo()), ("collection", POST_COLLECTION), ("rkey", rkey)],
            )
        except RequestRefused as refused:
            if refused.error == "RecordNotFound":
                return None
            raise
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, dict) or value.get("text") != text:
            return None
        return _created(body)

    def repo(self) -> str:
        """The account's DID: from the secret, or resolved from its handle."""
        credentials = self._context.credentials()
        did = credentials.get("did")
        if isinstance(did, str) and did.startswith("did:"):
            return did
        identifier = required_credential(credentials, CHANNEL, "identifier")
        if identifier.startswith("did:"):
            return identifier
        resolved = self.resolve(identifier)
        if resolved is None:
            raise PublishFailed(
                CHANNEL, "the account's handle does not resolve to a DID", retryable=False
            )
        return resolved

    def resolve(self, handle: str) -> str | None:
        """The DID of `handle`, None when it names no account."""
        key = handle.casefold()
        if key not in self._dids:
            try:
                body = self._client.call(RESOLVE_HANDLE, params=[("handle", key)])
            except RequestRefused:
                self._dids[key] = None
            else:
                did = body.get("did") if isinstance(body, dict) else None
                if not isinstance(did, str) or not did.startswith("did:"):
                    raise MalformedResponse(CHANNEL, f"{RESOLVE_HANDLE}: the answer has no did")
                self._dids[key] = did
        return self._dids[key]

    def facets(self, text: str) -> list[dict[str, Any]]:
        facets = []
        for span in facet_spans(text):
            index = {"byteStart": span.byte_start, "byteEnd": span.byte_end}
            if span.kind == "link":
                feature = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
            elif span.kind == "tag":
                feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
            else:
                did = self.resolve(span.value)
                if did is None:
                    logger.warning("%s: a mentioned handle does not resolve; left plain", CHANNEL)
                    continue
                feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
            facets.append({"index": index, "features": [feature]})
        return facets


def _created(body: Any) -> PublishedPost:
    uri = body.get("uri") if isinstance(body, dict) else None
    if not isinstance(uri, str) or not uri.startswith("at://") or uri.count("/") != 4:
        raise MalformedResponse(CHANNEL, "the answer has no at:// uri of a record")
    did, _collection, rkey = uri[len("at://") :].split("/")
    return PublishedPost(CHANNEL, uri, f"https://bsky.app/profile/{did}/post/{rkey}")


def _iso_millis(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
