"""Facebook: Pages by username (``GET /{page-username}?fields=name,username,link``).

Only Pages can be looked up: Graph does not show people's profiles to a Page token, and
reading a Page other than one's own needs the app's Page Public Content Access feature
(without it Graph answers a permission error, reported as such). Facebook has no hashtag
API, so tags are "not checked", and the result says so.
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
    tag_not_checked,
)
from stormwatch.errors import ChannelError, MalformedResponse

CHANNEL = "facebook"
CREDENTIAL = "page_access_token"
PAGE_FIELDS = "id,name,username,link"
# Page usernames: letters, digits and periods, at least five; numeric ids are accepted too.
PAGE_NAME = re.compile(r"[A-Za-z0-9.]{5,50}|[0-9]{1,20}")


def make_lookup(context: ChannelContext) -> FacebookLookup:
    return FacebookLookup(context)


def graph_says_unknown(error: ChannelError) -> bool:
    """Graph's ways of saying an object does not exist (or is invisible to this token):
    404 with code 803, or 400 "Unsupported get request ... does not exist" (code 100/33)."""
    return error.status == 404 or (error.status == 400 and "does not exist" in str(error))


class FacebookLookup:
    def __init__(self, context: ChannelContext) -> None:
        self._graph = GraphClient(context, credential=CREDENTIAL)

    def lookup_account(self, handle: str) -> AccountMatch:
        name = bare_handle(handle)
        if not PAGE_NAME.fullmatch(name):
            return account_not_found(CHANNEL, handle, f"@{name} is no Facebook Page username")
        return guarded_account(CHANNEL, handle, lambda: self._page(handle, name))

    def lookup_tag(self, tag: str) -> TagMatch:
        return tag_not_checked(
            CHANNEL, bare_tag(tag), "not checked: Facebook offers no way to look up a hashtag"
        )

    def _page(self, handle: str, name: str) -> AccountMatch:
        try:
            page = self._graph.get(name, {"fields": PAGE_FIELDS})
        except ChannelError as error:
            if graph_says_unknown(error):
                return account_not_found(
                    CHANNEL, handle, f"no Facebook Page @{name} is visible to the Page token"
                )
            raise
        page_id, display = page.get("id"), page.get("name")
        if not (isinstance(page_id, str) and page_id and isinstance(display, str) and display):
            raise MalformedResponse(CHANNEL, "page lookup: the answer has no id or name")
        username, link = page.get("username"), page.get("link")
        shown = username if isinstance(username, str) and username else name
        return account_found(
            CHANNEL,
            handle,
            display_name=display,
            account_id=page_id,
            url=link if isinstance(link, str) else f"https://www.facebook.com/{shown}",
            shown_as=f"@{shown} on Facebook",
        )
