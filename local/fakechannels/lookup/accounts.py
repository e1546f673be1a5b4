"""Who exists on the fake channels: the scenario's brands and a few of its people.

Each channel spells a handle its own way (a Bluesky handle is a domain name, a LinkedIn
organization has a vanity name); the fakes derive those from the names here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KnownAccount:
    name: str
    """The handle where a channel allows it as is (``nordwindair``)."""
    display_name: str
    brand: bool


BRANDS = (
    KnownAccount("nordwindair", "Nordwind Air", brand=True),
    KnownAccount("kolibripay", "Kolibri Pay", brand=True),
)
# People who write about the brands in the scenario (local.scenario's authors).
PEOPLE = (
    KnownAccount("anna_k", "Anna Krüger", brand=False),
    KnownAccount("travelmike", "Mike T.", brand=False),
    KnownAccount("hamburg_news", "Hamburg Aktuell", brand=False),
    KnownAccount("reisefieber", "Reisefieber Blog", brand=False),
)
ACCOUNTS = BRANDS + PEOPLE


def find(name: str) -> KnownAccount | None:
    """The account called `name`, case-insensitively (as every channel matches handles)."""
    folded = name.casefold()
    return next((account for account in ACCOUNTS if account.name.casefold() == folded), None)
