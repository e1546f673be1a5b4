"""LinkedIn: organizations by vanity name
(``GET /rest/organizations?q=vanityName&vanityName=<name>``, display name ``localizedName``).

Members cannot be looked up with an organization's token, and LinkedIn has no hashtag
API: tags are "not checked", and the result says so.
"""

from __future__ import annotations

import re
from typing import Any

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.linkedin import LinkedInClient, restli_leaf
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

CHANNEL = "linkedin"
VANITY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def make_lookup(context: ChannelContext) -> LinkedInLookup:
    return LinkedInLookup(context)


class LinkedInLookup:
    def __init__(self, context: ChannelContext) -> None:
        self._client = LinkedInClient(context)

    def lookup_account(self, handle: str) -> AccountMatch:
        name = bare_handle(handle)
        if not VANITY_NAME.fullmatch(name):
            return account_not_found(
                CHANNEL, handle, f"@{name} is no LinkedIn organization vanity name"
            )
        return guarded_account(CHANNEL, handle, lambda: self._organization(handle, name))

    def lookup_tag(self, tag: str) -> TagMatch:
        return tag_not_checked(
            CHANNEL, bare_tag(tag), "not checked: LinkedIn offers no way to look up a hashtag"
        )

    def _organization(self, handle: str, name: str) -> AccountMatch:
        try:
            payload = self._client.get(
                "organizations", [("q", "vanityName"), ("vanityName", restli_leaf(name))]
            )
        except ChannelError as error:
            if error.status == 404:
                return account_not_found(
                    CHANNEL, handle, f"no LinkedIn organization has the vanity name {name!r}"
                )
            raise
        elements = payload.get("elements")
        if not isinstance(elements, list):
            raise MalformedResponse(CHANNEL, "organizations: the answer has no 'elements' list")
        if not elements:
            return account_not_found(
                CHANNEL, handle, f"no LinkedIn organization has the vanity name {name!r}"
            )
        organization = elements[0]
        if not isinstance(organization, dict):
            raise MalformedResponse(CHANNEL, "organizations: an element is not an object")
        organization_id = organization.get("id")
        display = _localized(organization.get("localizedName"))
        vanity = organization.get("vanityName")
        if isinstance(organization_id, bool) or not isinstance(organization_id, int | str):
            raise MalformedResponse(CHANNEL, "organizations: the organization has no id")
        if display is None:
            raise MalformedResponse(CHANNEL, "organizations: the organization has no localizedName")
        shown = vanity if isinstance(vanity, str) and vanity else name
        return account_found(
            CHANNEL,
            handle,
            display_name=display,
            account_id=f"urn:li:organization:{organization_id}",
            url=f"https://www.linkedin.com/company/{shown}/",
            shown_as=f"{shown} on LinkedIn",
        )


def _localized(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
