"""The ``act`` section: who may write, approve and release statements, what a statement
must never say, and where scheduled posts are parked.

    act:
      people:
        - contact: anna
          roles: [author, approver]
          identities: ["arn:aws:iam::111122223333:user/anna"]
        - {contact: ben, roles: [approver, publisher], identities: [...]}
      approvals_required: 2
      approval_expiry_hours: 24
      publish_on: [x, mastodon, bluesky, facebook, linkedin, instagram]
      languages: {x: de, linkedin: en}
      forbidden_terms: ["no comment", "unfortunately for you"]
      vocabulary: [Nordwind, Kolibri]
      instagram: card
      schedulers:
        hootsuite: {enabled: true, social_profile_ids: ["115185509"]}
      resume: keep_time

Who somebody is comes from the caller's verified identity (an IAM principal's ARN, or a
Cognito user as ``cognito:<username>``), matched against ``identities``; never from a
name in a request. Every key but ``people`` is optional, and with no ``people`` nobody
can act: the safe default.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from annotated_types import MinLen
from pydantic import AfterValidator, Field, field_validator

from stormwatch.config.channels import HttpUrl
from stormwatch.config.fields import (
    Between,
    Flag,
    Integer,
    Matching,
    Section,
    Text,
    distinct,
    problem,
)
from stormwatch.model import CHANNELS

Role = Literal["author", "approver", "publisher"]

PUBLISHING_CHANNELS: Final = ("x", "mastodon", "bluesky", "facebook", "linkedin", "instagram")
"""Channels a statement can be posted on (Reddit and RSS are read, never written)."""

PublishingChannel = Literal["x", "mastodon", "bluesky", "facebook", "linkedin", "instagram"]

Language = Annotated[Text, Matching(r"^[a-z]{2}$", "a two-letter ISO 639-1 code")]

Identity = Annotated[
    Text,
    Matching(
        r"^(arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+|cognito:\S+)$",
        "an IAM principal ARN or cognito:<username>",
    ),
]


class Person(Section):
    """Somebody who may act, by the roles they hold."""

    contact: Text
    """Their id in `contacts` (names them in the audit log and the messages)."""
    roles: Annotated[tuple[Role, ...], MinLen(1), AfterValidator(distinct)]
    """author: drafts and submits; approver: approves or rejects; publisher: releases,
    pauses and resumes."""
    identities: Annotated[tuple[Identity, ...], MinLen(1), AfterValidator(distinct)]
    """Verified identities that are this person: IAM principal ARNs (an assumed role as
    ``arn:aws:sts::<account>:assumed-role/<role>/<session>``) or ``cognito:<username>``."""


class HootsuiteScheduler(Section):
    """Posts scheduled in Hootsuite (most teams' scheduler): parked through its REST API."""

    enabled: Flag = False
    base_url: HttpUrl = Field(default="https://platform.hootsuite.com", description="Its REST API.")
    secret_key: Text = Field(
        default="hootsuite", description="Key of its OAuth2 token in the stage's secret."
    )
    social_profile_ids: tuple[Text, ...] = ()
    """Profiles whose scheduled posts are parked; empty means every profile the token sees."""
    horizon_days: Annotated[Integer, Between(1, 366)] = 180
    """How far ahead scheduled posts are looked for (its API lists a bounded window)."""


class Schedulers(Section):
    """Where scheduled posts wait. Mastodon's scheduled statuses, the Facebook page's
    scheduled posts and our own queue are parked whenever their channel is enabled."""

    hootsuite: HootsuiteScheduler = Field(default_factory=HootsuiteScheduler)
    mastodon: Flag = True
    """Park the Mastodon account's scheduled statuses."""
    facebook: Flag = True
    """Park the Facebook page's scheduled posts."""


class ActSettings(Section):
    """The guarded release: statements, approval, crisis mode and parking."""

    people: tuple[Person, ...] = ()
    """Who may author, approve and publish; nobody by default."""
    approvals_required: Annotated[Integer, Between(2, 10)] = 2
    """Distinct approvers, none of them the author, before a statement can be released."""
    approval_expiry_hours: Annotated[Integer, Between(1, 168)] = 24
    """An approval older than this no longer counts."""
    publish_on: (
        Annotated[tuple[PublishingChannel, ...], MinLen(1), AfterValidator(distinct)] | None
    ) = None
    """The channels a statement goes out on, each enabled under `channels`; by default
    every enabled channel that can be posted on."""
    languages: dict[PublishingChannel, Language] = Field(default_factory=dict)
    """The language each channel's account posts in; a statement in another language fails
    that channel's pre-flight check. Unlisted channels take any language."""
    forbidden_terms: tuple[Text, ...] = ()
    """Words and phrases a statement must never contain (matched ignoring case)."""
    vocabulary: tuple[Text, ...] = ()
    """Words the spell checker knows besides its dictionary (brand names are known
    already)."""
    instagram: Literal["card", "skip"] = "card"
    """Instagram posts no text alone: post the statement as an image card, or skip the
    channel (shown before approval)."""
    schedulers: Schedulers = Field(default_factory=Schedulers)
    """Which schedulers are parked in a crisis."""
    resume: Literal["keep_time", "shift_by_pause"] = "keep_time"
    """On resume, parked posts go back at their own time, or later by how long the pause
    lasted. Either way a post whose time has passed goes to the review list."""

    @field_validator("people")
    @classmethod
    def _identities_are_one_persons(cls, people: tuple[Person, ...]) -> tuple[Person, ...]:
        owner: dict[str, str] = {}
        contacts: set[str] = set()
        for index, person in enumerate(people):
            if person.contact in contacts:
                raise problem(f"{person.contact!r} is listed twice", index, "contact")
            contacts.add(person.contact)
            for identity in person.identities:
                if identity in owner:
                    raise problem(
                        f"{identity!r} already names {owner[identity]!r}"
                        " (an identity is one person)",
                        index,
                        "identities",
                    )
                owner[identity] = person.contact
        return people


assert set(PUBLISHING_CHANNELS) <= set(CHANNELS)
