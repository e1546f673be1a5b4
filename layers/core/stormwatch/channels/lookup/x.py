"""X: accounts by username (``GET /2/users/by/username/:username``), hashtags by recent search.

X has no hashtag object to look up, so a tag is checked with the recent search the adapter
already uses (``#tag``, the last seven days): posts found mean the tag is in use. The
answer counts at most one page (10 posts): enough to tell "in use" from "nobody".

An unknown username is no HTTP error on X: the answer is 200 with a ``resource-not-found``
problem in ``errors[]`` and no ``data``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from stormwatch.channels.base import ChannelContext
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
from stormwatch.channels.x import SEARCH_PATH, XApi
from stormwatch.errors import MalformedResponse

CHANNEL = "x"
USERS_ENDPOINT = "/2/users/by/username/:username"
USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
HASHTAG = re.compile(r"\w{1,100}")
TAG_SAMPLE = 10


def make_lookup(context: ChannelContext) -> XLookup:
    return XLookup(context)


class XLookup:
    def __init__(self, context: ChannelContext) -> None:
        self._api = XApi(context)

    def lookup_account(self, handle: str) -> AccountMatch:
        name = bare_handle(handle)
        if not USERNAME.fullmatch(name):
            return account_not_found(
                CHANNEL, handle, f"@{name} is no X username (1-15 letters, digits or _)"
            )
        return guarded_account(CHANNEL, handle, lambda: self._account(handle, name))

    def lookup_tag(self, tag: str) -> TagMatch:
        name = bare_tag(tag)
        if not HASHTAG.fullmatch(name):
            return tag_not_found(CHANNEL, tag, f"#{name} is no hashtag X can search for")
        return guarded_tag(CHANNEL, name, lambda: self._tag(name))

    def _account(self, handle: str, name: str) -> AccountMatch:
        body = self._api.get(
            USERS_ENDPOINT,
            f"/2/users/by/username/{quote(name, safe='')}",
            [("user.fields", "name,username")],
        )
        if not isinstance(body, dict):
            raise MalformedResponse(CHANNEL, "user lookup: the answer is not a JSON object")
        user = body.get("data")
        if user is None:
            return account_not_found(CHANNEL, handle, _not_found_message(name, body.get("errors")))
        if not isinstance(user, dict):
            raise MalformedResponse(CHANNEL, "user lookup: 'data' is not an object")
        user_id, username, display = user.get("id"), user.get("username"), user.get("name")
        if not (
            isinstance(user_id, str)
            and user_id
            and isinstance(username, str)
            and username
            and isinstance(display, str)
        ):
            raise MalformedResponse(CHANNEL, "user lookup: the user has no id, username or name")
        return account_found(
            CHANNEL,
            handle,
            display_name=display,
            account_id=user_id,
            url=f"https://x.com/{username}",
            shown_as=f"@{username} on X",
        )

    def _tag(self, name: str) -> TagMatch:
        body = self._api.get(
            SEARCH_PATH,
            SEARCH_PATH,
            [("query", f"#{name}"), ("max_results", str(TAG_SAMPLE))],
        )
        meta = body.get("meta") if isinstance(body, dict) else None
        count = meta.get("result_count") if isinstance(meta, dict) else None
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise MalformedResponse(CHANNEL, "tag search: the answer has no 'meta.result_count'")
        url = f"https://x.com/hashtag/{quote(name, safe='')}"
        if count == 0:
            return tag_not_found(
                CHANNEL, name, f"nobody has used #{name} on X in the last 7 days", url=url
            )
        more = "+" if count >= TAG_SAMPLE else ""
        return tag_found(
            CHANNEL,
            name,
            uses=count,
            url=url,
            message=f"#{name} is in use on X: {count}{more} posts in the last 7 days",
        )


def _not_found_message(name: str, errors: Any) -> str:
    problems = errors if isinstance(errors, list) else []
    for problem in problems:
        if isinstance(problem, dict) and str(problem.get("type", "")).endswith(
            "/resource-not-found"
        ):
            return f"no X account is called @{name}"
        if isinstance(problem, dict) and isinstance(problem.get("detail"), str):
            # Suspended or otherwise unavailable accounts come as other problem types.
            return f"@{name} is not available on X: {problem['detail'][:160]}"
    if problems:
        return f"@{name} is not available on X"
    raise MalformedResponse(CHANNEL, "user lookup: the answer has neither 'data' nor 'errors'")
