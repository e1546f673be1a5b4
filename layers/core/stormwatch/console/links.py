"""Signed links for the alert messages: short enough for the SMS's one segment, expiring,
single-use, and opening a page only for somebody signed in (the console's JWT authorizer
guards ``/l/...`` like every route); opening one changes nothing but the record of its use.

    <console url>/l/<link id>.<mac>      e.g.  /l/1k7t0ps4go9zq.Xc2vY0b1Qm

The link id (13 base-36 characters) is the brand's place in the config (1), the alert's
start in minutes since 2020 (6), the link's expiry in minutes after that start (3) and a
random nonce (3), so every message gets its own link. The MAC (10 base64url characters,
60 bits of HMAC-SHA256 with the console's key) covers the alert id itself, not the place:
a config whose brands moved makes a link invalid, never another brand's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stormwatch.warn.acknowledgement import ALERT_ID

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
VALIDITY = timedelta(hours=24)
"""An alert's messages are acted on within hours; a day covers a night and a morning."""
MAC_LENGTH = 10
LINK = re.compile(r"^(?P<id>[0-9a-z]{13})\.(?P<mac>[A-Za-z0-9_-]{10})$")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class BadLink(ValueError):
    """Not a link we made (mistyped, cut, or changed)."""


class ExpiredLink(ValueError):
    """A link we made, past its time."""


@dataclass(frozen=True, slots=True)
class OpenedLink:
    link_id: str
    alert_id: str
    expires_at: datetime


def _base36(number: int, width: int) -> str:
    if not 0 <= number < 36**width:
        raise ValueError(f"{number} does not fit {width} base-36 digits")
    digits = ""
    for _ in range(width):
        number, digit = divmod(number, 36)
        digits = _ALPHABET[digit] + digits
    return digits


def _mac(key: bytes, link_id: str, alert_id: str) -> str:
    digest = hmac.new(key, f"link|{link_id}|{alert_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAC_LENGTH]


def _alert_start(alert_id: str) -> tuple[str, datetime]:
    match = ALERT_ID.match(alert_id)
    if match is None:
        raise ValueError(f"{alert_id!r} is not an alert id")
    started = datetime.strptime(match.group("at"), "%Y%m%d-%H%M").replace(tzinfo=UTC)
    return match.group("brand"), started


def alert_link(
    key: bytes, alert_id: str, brands: Sequence[str], now: datetime, nonce: str | None = None
) -> str:
    """The path of a link to the alert's page (``/l/...``), valid `VALIDITY` from `now`."""
    brand, started = _alert_start(alert_id)
    place = brands.index(brand)
    start_minutes = int((started - EPOCH).total_seconds() // 60)
    expiry_minutes = int((now + VALIDITY - started).total_seconds() // 60)
    link_id = (
        _base36(place, 1)
        + _base36(start_minutes, 6)
        # (an alert older than 32 days gets a link that ends sooner: 3 digits' worth)
        + _base36(min(max(0, expiry_minutes), 36**3 - 1), 3)
        + (nonce or "".join(secrets.choice(_ALPHABET) for _ in range(3)))
    )
    return f"/l/{link_id}.{_mac(key, link_id, alert_id)}"


def open_link(key: bytes, token: str, brands: Sequence[str], now: datetime) -> OpenedLink:
    """The alert a link leads to; `BadLink` for anything we did not sign, `ExpiredLink`
    for a link past its time (checked after the MAC: an expiry nobody signed says nothing)."""
    match = LINK.match(token)
    if match is None:
        raise BadLink("this link is not complete: open the console and find the alert there")
    link_id = match.group("id")
    place = _ALPHABET.index(link_id[0])
    if place >= len(brands):
        raise BadLink("this link is not one of ours")
    started = EPOCH + timedelta(minutes=int(link_id[1:7], 36))
    alert_id = f"{brands[place]}-{started:%Y%m%d-%H%M}"
    if not hmac.compare_digest(match.group("mac"), _mac(key, link_id, alert_id)):
        raise BadLink("this link is not one of ours")
    expires_at = started + timedelta(minutes=int(link_id[7:10], 36))
    if now >= expires_at:
        raise ExpiredLink(f"this link expired at {expires_at:%Y-%m-%d %H:%M} UTC")
    return OpenedLink(link_id, alert_id, expires_at)
