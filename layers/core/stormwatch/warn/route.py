"""Stage: who hears a dispatch, and by which path. Pure.

A dispatch names audiences (the team list, whoever is on call, the escalation contacts,
business hours); the roster turns them into people at the moment of sending. The team
hears by email, and by the topic's SMS subscription (the fallback phone) from severity 2;
each person the audience names gets an SMS of their own, once, however many audiences
name them. "Back to normal" also reaches every phone paged while the alert lasted: the
night's person on call hears it is over even when the day's desk is on call by then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from stormwatch.notify import EMAIL, SMS, SMS_TOPIC
from stormwatch.oncall import Contact, Roster
from stormwatch.warn.lifecycle import BUSINESS_HOURS, ESCALATION, ON_CALL, TEAM, Dispatch


@dataclass(frozen=True, slots=True)
class Route:
    medium: str
    """`notify.EMAIL`, `notify.SMS_TOPIC` or `notify.SMS` (to `phone`)."""
    phone: str = ""

    def key(self, dispatch: Dispatch) -> str:
        """The outbox key: one message per dispatch and route."""
        suffix = {EMAIL: "email", SMS_TOPIC: "sms-topic"}.get(self.medium)
        return f"{dispatch.key}:{suffix}" if suffix else f"{dispatch.key}:sms:{self.phone}"


def contacts_of(audience: Sequence[str], roster: Roster | None, now: datetime) -> list[Contact]:
    """The people the audiences name at `now`, each once, in the order named."""
    if roster is None:
        return []
    found: dict[str, Contact] = {}
    for target in audience:
        if target == ON_CALL:
            contacts: Sequence[Contact] = roster.on_call(now).contacts
        elif target == ESCALATION:
            contacts = roster.escalation
        elif target == BUSINESS_HOURS and roster.business_hours is not None:
            contacts = roster.business_hours.contacts
        else:
            continue
        for contact in contacts:
            found.setdefault(contact.id, contact)
    return list(found.values())


def routes(dispatch: Dispatch, roster: Roster | None, now: datetime) -> list[Route]:
    made: list[Route] = []
    if TEAM in dispatch.audience:
        made.append(Route(EMAIL))
        if dispatch.severity >= 2 and not dispatch.quiet:
            made.append(Route(SMS_TOPIC))
    named = [contact.phone for contact in contacts_of(dispatch.audience, roster, now)]
    phones = dict.fromkeys(phone for phone in [*named, *dispatch.paged] if phone)
    made.extend(Route(SMS, phone) for phone in phones)
    return made


def paged(audience: Sequence[str], roster: Roster | None, now: datetime) -> list[str]:
    """Names of the people paged by SMS for these audiences (for the reminder's text)."""
    return [
        contact.name
        for contact in contacts_of(
            [target for target in audience if target in (ON_CALL, ESCALATION)], roster, now
        )
    ]
