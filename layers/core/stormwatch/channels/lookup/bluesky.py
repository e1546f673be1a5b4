"""Bluesky: accounts by handle and hashtags by search, on the read adapter's session.

An account is checked both ways: ``com.atproto.identity.resolveHandle`` says which DID the
handle points at (``HandleNotFound`` or ``Unable to resolve handle``: nobody), then
``app.bsky.actor.getProfile`` on that DID gives the display name and the handle the
account itself claims; when that differs, the handle is stale (moved to another account,
or ``handle.invalid``) and the statement would link the wrong one.

Tags: ``app.bsky.feed.searchPosts`` with ``tag=`` (the facet or record tag), one page;
``hitsTotal`` is the count when the service gives one, else the posts on that page.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.bluesky import (
    SEARCH_POSTS,
    BlueskyClient,
    RequestRefused,
    TokenExpired,
    TokenRefused,
)
from stormwatch.channels.lookup.base import (
    AccountMatch,
    TagMatch,
    account_found,
    account_not_found,
    bare_handle,
    bare_tag,
    guarded_account,
    guarded_tag,
    tag_found,
    tag_not_found,
)
from stormwatch.errors import MalformedResponse

CHANNEL = "bluesky"
RESOLVE_HANDLE = "com.atproto.identity.resolveHandle"
GET_PROFILE = "app.bsky.actor.getProfile"
TAG_SAMPLE = 25

# The AT Protocol's handle syntax: a domain name.
HANDLE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
HASHTAG = re.compile(r"[^\s#＃]{1,64}")
# How the services say "no such handle/profile" (a 400 with these names or messages).
_UNKNOWN = ("HandleNotFound", "Unable to resolve handle", "Profile not found", "ActorNotFound")


def make_lookup(context: ChannelContext) -> BlueskyLookup:
    return BlueskyLookup(context)


class _QueryClient(BlueskyClient):
    """The adapter's client (one session per account and process), for any XRPC query."""

    def query(self, method: str, params: list[tuple[str, str]]) -> Any:
        account = self.account()
        session = self._session(account)
        try:
            return self._get(account, method, params, session)
        except TokenExpired:
            session = self._renew(account, session, refresh=True)
        except TokenRefused:
            session = self._renew(account, session, refresh=False)
        return self._get(account, method, params, session)


class BlueskyLookup:
    def __init__(self, context: ChannelContext) -> None:
        self._client = _QueryClient(context)

    def lookup_account(self, handle: str) -> AccountMatch:
        name = bare_handle(handle).lower()
        if not HANDLE.fullmatch(name) or len(name) > 253:
            return account_not_found(
                CHANNEL,
                handle,
                f"@{name} is no Bluesky handle (a domain name such as name.bsky.social)",
            )
        return guarded_account(CHANNEL, handle, lambda: self._account(handle, name))

    def lookup_tag(self, tag: str) -> TagMatch:
        name = bare_tag(tag)
        if not HASHTAG.fullmatch(name):
            return tag_not_found(CHANNEL, tag, f"#{name} is no Bluesky hashtag")
        return guarded_tag(CHANNEL, name, lambda: self._tag(name))

    def _account(self, handle: str, name: str) -> AccountMatch:
        try:
            resolved = self._client.query(RESOLVE_HANDLE, [("handle", name)])
        except RequestRefused as refused:
            if _means_unknown(refused):
                return account_not_found(CHANNEL, handle, f"no Bluesky account has @{name}")
            raise
        did = resolved.get("did") if isinstance(resolved, dict) else None
        if not isinstance(did, str) or not did.startswith("did:"):
            raise MalformedResponse(CHANNEL, f"{RESOLVE_HANDLE}: the answer has no DID")
        try:
            profile = self._client.query(GET_PROFILE, [("actor", did)])
        except RequestRefused as refused:
            if _means_unknown(refused):
                return account_not_found(
                    CHANNEL, handle, f"@{name} points at {did}, which has no profile"
                )
            raise
        if not isinstance(profile, dict):
            raise MalformedResponse(CHANNEL, f"{GET_PROFILE}: the answer is not an object")
        claimed, shown = profile.get("handle"), profile.get("displayName", "")
        if not isinstance(claimed, str) or not isinstance(shown, str):
            raise MalformedResponse(CHANNEL, f"{GET_PROFILE}: no handle or displayName")
        if claimed.lower() != name:
            return account_not_found(
                CHANNEL,
                handle,
                f"@{name} is stale: its account now calls itself @{claimed}",
            )
        return account_found(
            CHANNEL,
            handle,
            display_name=shown or claimed,
            account_id=did,
            url=f"https://bsky.app/profile/{claimed}",
            shown_as=f"@{claimed} on Bluesky",
        )

    def _tag(self, name: str) -> TagMatch:
        body = self._client.query(
            SEARCH_POSTS,
            [("q", f"#{name}"), ("tag", name), ("limit", str(TAG_SAMPLE))],
        )
        posts = body.get("posts") if isinstance(body, dict) else None
        if not isinstance(posts, list):
            raise MalformedResponse(CHANNEL, f"{SEARCH_POSTS}: the answer has no 'posts' list")
        total = body.get("hitsTotal")
        # hitsTotal is optional and "may be rounded": trusted only when it is at least the page.
        exact = isinstance(total, int) and not isinstance(total, bool) and total >= len(posts)
        count = total if exact and isinstance(total, int) else len(posts)
        url = f"https://bsky.app/hashtag/{quote(name, safe='')}"
        if count == 0:
            return tag_not_found(CHANNEL, name, f"nobody has used #{name} on Bluesky", url=url)
        more = "+" if not exact and count >= TAG_SAMPLE else ""
        return tag_found(
            CHANNEL,
            name,
            uses=count,
            url=url,
            message=f"#{name} is in use on Bluesky: {count}{more} posts found",
        )


def _means_unknown(refused: RequestRefused) -> bool:
    return refused.error in _UNKNOWN or any(words in str(refused) for words in _UNKNOWN)
