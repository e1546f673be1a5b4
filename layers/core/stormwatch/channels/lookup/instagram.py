"""Instagram: accounts by business discovery, hashtags by ``ig_hashtag_search``.

``GET /{ig-user-id}?fields=business_discovery.username(<name>){id,name,username}`` shows
another professional (business or creator) account; a personal account cannot be looked
up and answers like an unknown one (code 110, subcode 2207013), so the message says both.

A hashtag is known when ``ig_hashtag_search`` gives it an id. Each *new* hashtag counts
against the account's 30 unique hashtags per 7 days, which the Listen flow's hashtag
sources share: statements mostly use the brand's own hashtags, which cost nothing extra.
"""

from __future__ import annotations

import re

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.graph import GraphClient
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
from stormwatch.errors import ChannelError, MalformedResponse

CHANNEL = "instagram"
CREDENTIAL = "access_token"
USERNAME = re.compile(r"[A-Za-z0-9._]{1,30}")
HASHTAG = re.compile(r"\w{1,100}")
# Graph's "Cannot find User" for business discovery.
_UNKNOWN_USER = ("2207013", "(#110)")


def make_lookup(context: ChannelContext) -> InstagramLookup:
    return InstagramLookup(context)


class InstagramLookup:
    def __init__(self, context: ChannelContext) -> None:
        self._graph = GraphClient(context, credential=CREDENTIAL)
        self._account_id = context.config.text("business_account_id")

    def lookup_account(self, handle: str) -> AccountMatch:
        name = bare_handle(handle)
        if not USERNAME.fullmatch(name):
            return account_not_found(CHANNEL, handle, f"@{name} is no Instagram username")
        return guarded_account(CHANNEL, handle, lambda: self._account(handle, name))

    def lookup_tag(self, tag: str) -> TagMatch:
        name = bare_tag(tag)
        if not HASHTAG.fullmatch(name):
            return tag_not_found(CHANNEL, tag, f"#{name} is no Instagram hashtag")
        return guarded_tag(CHANNEL, name, lambda: self._tag(name))

    def _account(self, handle: str, name: str) -> AccountMatch:
        fields = f"business_discovery.username({name}){{id,name,username}}"
        try:
            body = self._graph.get(self._account_id, {"fields": fields})
        except ChannelError as error:
            if error.status == 400 and any(code in str(error) for code in _UNKNOWN_USER):
                return account_not_found(
                    CHANNEL,
                    handle,
                    f"no Instagram business or creator account is called @{name} "
                    "(personal accounts cannot be looked up)",
                )
            raise
        found = body.get("business_discovery")
        if not isinstance(found, dict):
            raise MalformedResponse(CHANNEL, "business discovery: no 'business_discovery' object")
        user_id, username = found.get("id"), found.get("username")
        display = found.get("name")
        if not (isinstance(user_id, str) and user_id and isinstance(username, str) and username):
            raise MalformedResponse(
                CHANNEL, "business discovery: the account has no id or username"
            )
        return account_found(
            CHANNEL,
            handle,
            display_name=display if isinstance(display, str) and display else username,
            account_id=user_id,
            url=f"https://www.instagram.com/{username}/",
            shown_as=f"@{username} on Instagram",
        )

    def _tag(self, name: str) -> TagMatch:
        body = self._graph.get("ig_hashtag_search", {"user_id": self._account_id, "q": name})
        data = body.get("data")
        if not isinstance(data, list):
            raise MalformedResponse(CHANNEL, "ig_hashtag_search: the answer has no 'data' list")
        url = f"https://www.instagram.com/explore/tags/{name.lower()}/"
        if not data:
            return tag_not_found(CHANNEL, name, f"Instagram knows no hashtag #{name}")
        return tag_found(CHANNEL, name, uses=None, url=url, message=f"#{name} exists on Instagram")
