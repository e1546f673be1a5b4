"""Mastodon: accounts (``GET /api/v1/accounts/lookup?acct=``), hashtags
(``GET /api/v1/tags/:name``) and the instance's status limits (``GET /api/v2/instance``).

A tag Mastodon answers 404 for has never been used on the instance (tags are created by
the first status that carries them). A tag it knows comes with ``history``: uses per day
over the last week, as strings.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import quote

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.lookup.base import (
    AccountMatch,
    TagMatch,
    account_found,
    account_not_found,
    bare_handle,
    bare_tag,
    failure_message,
    guarded_account,
    guarded_tag,
    tag_found,
    tag_not_found,
)
from stormwatch.channels.mastodon import MastodonApi
from stormwatch.errors import ChannelError, MalformedResponse

logger = logging.getLogger(__name__)

CHANNEL = "mastodon"
LOOKUP_PATH = "/api/v1/accounts/lookup"
TAGS_PATH = "/api/v1/tags/"
INSTANCE_PATH = "/api/v2/instance"

# Mastodon's own defaults: what every instance allowed before it could be configured.
DEFAULT_MAX_CHARACTERS = 500
DEFAULT_URL_CHARACTERS = 23

# user or user@domain (a WebFinger address without the leading @).
ACCT = re.compile(r"[A-Za-z0-9_]{1,30}(?:@[A-Za-z0-9.-]{1,253})?")
HASHTAG = re.compile(r"\w{1,100}")


@dataclass(frozen=True, slots=True)
class StatusLimits:
    """How the instance counts a status: at most `max_characters`, a link as `url_characters`.

    `warning` says why the defaults were used instead of the instance's own figures.
    """

    max_characters: int
    url_characters: int
    warning: str | None = None


def make_lookup(context: ChannelContext) -> MastodonLookup:
    return MastodonLookup(context)


class MastodonLookup:
    def __init__(self, context: ChannelContext) -> None:
        self._api = MastodonApi(context)

    def lookup_account(self, handle: str) -> AccountMatch:
        acct = bare_handle(handle)
        if not ACCT.fullmatch(acct):
            return account_not_found(CHANNEL, handle, f"@{acct} is no Mastodon address")
        return guarded_account(CHANNEL, handle, lambda: self._account(handle, acct))

    def lookup_tag(self, tag: str) -> TagMatch:
        name = bare_tag(tag)
        if not HASHTAG.fullmatch(name):
            return tag_not_found(CHANNEL, tag, f"#{name} is no hashtag Mastodon can link")
        return guarded_tag(CHANNEL, name, lambda: self._tag(name))

    def status_limits(self) -> StatusLimits:
        """The instance's limits, or Mastodon's defaults with a warning saying why."""
        try:
            body, _ = self._api.get(INSTANCE_PATH, [])
            return _limits(body)
        except ChannelError as error:
            reason, _ = failure_message(error)
        warning = (
            f"the instance's status limits are unknown ({reason}); counting with Mastodon's "
            f"defaults of {DEFAULT_MAX_CHARACTERS} characters, {DEFAULT_URL_CHARACTERS} per link"
        )
        logger.warning("%s: %s", CHANNEL, warning)
        return StatusLimits(DEFAULT_MAX_CHARACTERS, DEFAULT_URL_CHARACTERS, warning)

    def _account(self, handle: str, acct: str) -> AccountMatch:
        try:
            body, _ = self._api.get(LOOKUP_PATH, [("acct", acct)])
        except ChannelError as error:
            if error.status == 404:
                return account_not_found(CHANNEL, handle, f"no Mastodon account @{acct} is known")
            raise
        if not isinstance(body, dict):
            raise MalformedResponse(CHANNEL, "account lookup: the answer is not a JSON object")
        account_id, found_acct = body.get("id"), body.get("acct")
        display, url = body.get("display_name"), body.get("url")
        if not (
            isinstance(account_id, str)
            and account_id
            and isinstance(found_acct, str)
            and found_acct
            and isinstance(display, str)
        ):
            raise MalformedResponse(CHANNEL, "account lookup: no id, acct or display_name")
        return account_found(
            CHANNEL,
            handle,
            # An empty display name is allowed on Mastodon; the username is what people see.
            display_name=display or str(body.get("username") or found_acct),
            account_id=account_id,
            url=url if isinstance(url, str) else None,
            shown_as=f"@{found_acct} on Mastodon",
        )

    def _tag(self, name: str) -> TagMatch:
        try:
            body, _ = self._api.get(TAGS_PATH + quote(name, safe=""), [])
        except ChannelError as error:
            if error.status == 404:
                return tag_not_found(
                    CHANNEL, name, f"#{name} is unknown on the instance: nobody has used it yet"
                )
            raise
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise MalformedResponse(CHANNEL, "tag lookup: the answer is no tag")
        uses = _weekly_uses(body.get("history"))
        url = body.get("url")
        message = f"#{body['name']} is known on Mastodon"
        if uses is not None:
            message += f": {uses} use{'' if uses == 1 else 's'} in the last week"
        return tag_found(
            CHANNEL, name, uses=uses, url=url if isinstance(url, str) else None, message=message
        )


def _weekly_uses(history: Any) -> int | None:
    """The uses of the days in ``history`` (numbers as strings), None when unreadable."""
    if not isinstance(history, list):
        return None
    total = 0
    for day in history:
        uses = day.get("uses") if isinstance(day, dict) else None
        if isinstance(uses, int) and not isinstance(uses, bool):
            total += uses
        elif isinstance(uses, str) and uses.isascii() and uses.isdigit():
            total += int(uses)
        else:
            return None
    return total


def _limits(body: Any) -> StatusLimits:
    configuration = body.get("configuration") if isinstance(body, dict) else None
    statuses = configuration.get("statuses") if isinstance(configuration, dict) else None
    if not isinstance(statuses, dict):
        raise MalformedResponse(CHANNEL, "instance: no 'configuration.statuses'")
    maximum = statuses.get("max_characters")
    per_url = statuses.get("characters_reserved_per_url")
    if not _positive(maximum) or not _positive(per_url):
        raise MalformedResponse(
            CHANNEL,
            "instance: 'max_characters' or 'characters_reserved_per_url' is not a positive number",
        )
    return StatusLimits(maximum, per_url)


def _positive(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def instance_limits(context: ChannelContext) -> StatusLimits:
    """The status limits of the instance `context` points at (defaults with a warning)."""
    return MastodonLookup(context).status_limits()
