"""The ``contacts`` and ``roster`` sections: who may be paged, and who is on call when.

``contacts`` is everyone the Warn flow may reach; ``roster`` says who of them is on call
when (the rules are in `stormwatch.oncall`, which this module builds a `Roster` for). All
times are local wall-clock times in the roster's ``time_zone``; quote them in YAML (an
unquoted ``18:00`` is read by YAML as the number 1080, and an unquoted date cannot be
pushed to SSM as JSON)::

    contacts:
      - {id: comms-desk, name: Comms desk, phone: "+4930901820", email: desk@nordwind.example}
      - {id: anna, name: Anna Berg, phone: "+4915112345678", email: anna@nordwind.example}
      - {id: ben, name: Ben Kraus, phone: "+4915223456789"}
      - {id: carla, name: Carla Diaz, phone: "+4917634567890"}
      - {id: dieter, name: Dieter Vogt, phone: "+4916045678901", email: cco@nordwind.example}

    roster:
      time_zone: Europe/Berlin
      business_hours:                    # the desk is on call here, except on holidays
        days: [mon, tue, wed, thu, fri]
        start: "09:00"
        end: "18:00"                     # "24:00" is allowed as an end
        contacts: [comms-desk]
      rotations:                         # cover everything outside business hours
        - name: night rotation
          cadence: weekly                # weekly: handover "<day> HH:MM"; daily: "HH:MM"
          handover: "mon 09:00"
          start_date: "2026-01-05"       # a handover day; order[0] is on call from then
          order: [anna, ben, carla]
          # end_date: "2027-03-01"       # optional: the rotation stops at that handover
          # covers:                      # optional: only these parts of the week
          #   - {from: "mon 09:00", to: "fri 09:00"}
      holidays:                          # whole local days without business hours
        - "2026-12-24"
        - {date: "2026-12-25", name: Christmas Day}
        - {date: "2027-01-01", name: New Year's Day}
      overrides:                         # take precedence over everything else
        - {contact: ben, start: "2026-12-24 18:00", end: "2026-12-27 09:00", note: swap with Carla}
      escalation: [dieter]               # severity 3, and the last escalation step

Contacts: ``id`` is lowercase letters, digits, ``.``, ``_``, ``-``; ``phone`` is E.164
(``+`` and 8-15 digits, no spaces). Every contact that can be on call alone (rotation
members, override contacts) needs a phone; business hours and escalation need at least
one contact with a phone each, since severity 2 and 3 alerts go out by SMS. A roster
that leaves anybody's night uncovered is refused, naming the gap (`Roster.coverage_gap`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from annotated_types import MinLen
from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from stormwatch.config.fields import (
    Matching,
    Section,
    Text,
    TimeZoneName,
    config_error,
    distinct,
    kind,
    problem,
    problem_error,
    read_as,
)
from stormwatch.oncall import (
    CHECK_HORIZON,
    DAY_LABELS,
    DAY_NAMES,
    MINUTES_PER_DAY,
    BusinessHours,
    Contact,
    Override,
    Roster,
    Rotation,
    Window,
    instant,
    moment_label,
)

_CLOCK = re.compile(r"^(?:(?P<day>[a-z]+)\s+)?(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_LOCAL_MOMENT = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?([+-][0-9]{2}:[0-9]{2}|Z)?$"
)
_DAYS_PATTERN = "|".join(DAY_NAMES)


# --- contacts ---------------------------------------------------------------------------

ContactId = Annotated[
    Text,
    Matching(r"^[a-z0-9][a-z0-9._-]{0,39}$", "lowercase letters, digits, '.', '_' or '-' (max 40)"),
]
Phone = Annotated[
    Text,
    Matching(
        r"^\+[1-9][0-9]{7,14}$", "E.164 ('+' and 8-15 digits, no spaces, e.g. +4915112345678)"
    ),
]
Email = Annotated[Text, Matching(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an email address")]


class ContactEntry(Section):
    """Somebody the Warn flow may reach: a person or a desk."""

    id: ContactId
    """How the roster names this contact."""
    name: Text
    """Shown in messages and the audit log ("SMS to Anna Berg")."""
    phone: Phone | None = None
    """E.164, e.g. +4915112345678: severity 2 and 3 alerts reach whoever is on call by SMS."""
    email: Email | None = None
    """The contact's address (alert emails go to the team's list, the AlertEmail)."""

    @model_validator(mode="after")
    def _reachable(self) -> ContactEntry:
        if self.phone is None and self.email is None:
            raise problem("a contact needs a phone or an email", "phone")
        return self


def _contacts_by_id(entries: list[ContactEntry], _info: ValidationInfo) -> dict[str, Contact]:
    contacts: dict[str, Contact] = {}
    first_seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.id in contacts:
            raise problem(
                f"duplicate contact id {entry.id!r} (first at contacts[{first_seen[entry.id]}].id)",
                index,
                "id",
            )
        contacts[entry.id] = Contact(entry.id, entry.name, entry.phone, entry.email)
        first_seen[entry.id] = index
    return contacts


Contacts = Annotated[
    Mapping[str, Contact],
    read_as(Annotated[list[ContactEntry], MinLen(1)], _contacts_by_id),
]
"""The document's `contacts` list, read as contacts by id."""


# --- times and dates as written ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clock:
    """A wall-clock time as written: "09:00", or "mon 09:00" in a weekly rule."""

    day: int | None
    """Monday = 0; None when no weekday was written."""
    minute: int
    """Minutes after local midnight; 1440 only for an end ("24:00")."""
    text: str


def _clock(value: object, *, weekday: bool | None, end: bool = False) -> Clock:
    """`weekday`: False forbids one; None accepts either, for the rule's model to check."""
    example = '"09:00"' if weekday is False else '"mon 09:00"'
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 18:00 as sexagesimal 1080: say so instead of guessing.
        raise problem(
            f"must be a quoted time like {example}; YAML reads an unquoted 18:00 as the number "
            f"1080, got {value}"
        )
    match = _CLOCK.match(value.strip().lower()) if isinstance(value, str) else None
    if match is None or not isinstance(value, str):
        raise problem(f"must be a time like {example}, got {kind(value)}")
    day_name, hour, minute = match["day"], int(match["hour"]), int(match["minute"])
    if day_name is not None and day_name not in DAY_NAMES:
        raise problem(f"unknown weekday {day_name!r} (use {', '.join(DAY_NAMES)})")
    if minute > 59 or hour > 24 or (hour == 24 and (minute or not end)):
        limit = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise problem(f"no such time {value!r} (from {limit})")
    clock = Clock(
        None if day_name is None else DAY_NAMES.index(day_name), hour * 60 + minute, value
    )
    if weekday is not None:
        _weekday_as(clock, wanted=weekday)
    return clock


def _weekday_as(clock: Clock, *, wanted: bool, at: tuple[str | int, ...] = ()) -> None:
    if wanted != (clock.day is not None):
        if wanted:
            raise problem(
                f'must be a weekday and a time, like "mon 09:00", got {clock.text!r}', *at
            )
        raise problem(f'must be a time without a weekday, like "09:00", got {clock.text!r}', *at)


def _clock_schema(*, weekday: bool | None) -> dict[str, str]:
    day = "" if weekday is False else f"(?:(?:{_DAYS_PATTERN})\\s+)?"
    return {"type": "string", "pattern": f"^{day}[0-9]{{1,2}}:[0-9]{{2}}$"}


TimeOfDay = Annotated[
    Clock,
    PlainValidator(lambda value: _clock(value, weekday=False)),
    WithJsonSchema(_clock_schema(weekday=False)),
]
EndOfDay = Annotated[
    Clock,
    PlainValidator(lambda value: _clock(value, weekday=False, end=True)),
    WithJsonSchema(_clock_schema(weekday=False)),
]
WeekOrDayTime = Annotated[
    Clock,
    PlainValidator(lambda value: _clock(value, weekday=None)),
    WithJsonSchema(_clock_schema(weekday=None)),
]
"""Checked against what the rule needs (a weekly handover has a weekday) by its model."""
WeekOrDayEnd = Annotated[
    Clock,
    PlainValidator(lambda value: _clock(value, weekday=None, end=True)),
    WithJsonSchema(_clock_schema(weekday=None)),
]


def _date(value: object) -> date:
    # PyYAML turns an unquoted 2026-11-23 into a date; JSON from SSM brings a string.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise problem(f'must be a date like "2026-11-23", got {kind(value)}')


LocalDate = Annotated[
    date, PlainValidator(_date), WithJsonSchema({"type": "string", "format": "date"})
]


def _moment(value: object) -> datetime:
    """A local 'YYYY-MM-DD HH:MM', or one with an explicit offset (made UTC by the roster)."""
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str) and _LOCAL_MOMENT.match(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None:
        raise problem(f'must be a local date and time like "2026-12-24 18:00", got {kind(value)}')
    return moment


LocalMoment = Annotated[
    datetime,
    PlainValidator(_moment),
    WithJsonSchema({"type": "string", "pattern": _LOCAL_MOMENT.pattern}),
]


def _weekday(value: object) -> int:
    name = value.strip().lower() if isinstance(value, str) else None
    if name not in DAY_NAMES:
        raise problem(f"must be one of {', '.join(DAY_NAMES)}, got {kind(value)}")
    return DAY_NAMES.index(name)


Weekday = Annotated[
    int, PlainValidator(_weekday), WithJsonSchema({"type": "string", "enum": list(DAY_NAMES)})
]
ContactIds = Annotated[tuple[Text, ...], MinLen(1), AfterValidator(distinct)]
"""Contact ids, each once."""


# --- the roster as written ----------------------------------------------------------------


class BusinessHoursEntry(Section):
    """When the desk is on call: listed weekdays that are not holidays, start to end."""

    days: Annotated[
        tuple[Weekday, ...],
        MinLen(1),
        AfterValidator(lambda days: distinct(days, lambda day: repr(DAY_NAMES[day]))),
    ]
    """Weekdays: mon, tue, wed, thu, fri, sat, sun."""
    start: TimeOfDay
    """Local time, quoted: "09:00"."""
    end: EndOfDay
    """Local time, quoted, after start: "18:00" ("24:00" for midnight)."""
    contacts: ContactIds
    """Everyone on call then (at least one with a phone)."""

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> BusinessHoursEntry:
        if self.end.minute <= self.start.minute:
            raise problem(
                f"must be after start ({_hhmm(self.start.minute)}), got {_hhmm(self.end.minute)!r}",
                "end",
            )
        return self


class WindowEntry(Section):
    """A part of every week ("fri 18:00" to "mon 09:00") or of every day ("18:00" to
    "09:00"); an end at or before the start is on the next day (or week)."""

    start: WeekOrDayTime = Field(alias="from")
    """Local start, quoted: "mon 09:00" or "18:00"."""
    end: WeekOrDayEnd = Field(alias="to")
    """Local end, quoted, with a weekday exactly when 'from' has one."""

    @model_validator(mode="after")
    def _a_real_window(self) -> WindowEntry:
        _weekday_as(self.end, wanted=self.start.day is not None, at=("to",))
        window = self.window
        if (window.start_day, window.start_minute) == (window.end_day, window.end_minute):
            raise problem(
                "must differ from 'from'; to cover all the time, leave 'covers' out", "to"
            )
        return self

    @property
    def window(self) -> Window:
        end_day, end = self.end.day, self.end.minute
        if end == MINUTES_PER_DAY:
            # "sun 24:00" is "mon 00:00": one spelling of each moment keeps the arithmetic
            # simple.
            end = 0
            end_day = None if end_day is None else (end_day + 1) % 7
        return Window(self.start.day, self.start.minute, end_day, end)


class RotationEntry(Section):
    """People taking turns at a local handover time, every day or every week."""

    name: Text
    """Shown in messages ("night rotation, week of 16 Nov: Carla Diaz"); unique."""
    cadence: Literal["daily", "weekly"]
    """How often the shift changes."""
    handover: WeekOrDayTime
    """Local handover, quoted: "mon 09:00" when weekly, "18:00" when daily."""
    start_date: LocalDate
    """A handover day: order[0] is on call from that handover."""
    end_date: LocalDate | None = None
    """The rotation stops at the handover that day (a successor can start then)."""
    order: ContactIds
    """Who takes turns, in order; each needs a phone."""
    covers: tuple[WindowEntry, ...] = ()
    """Only these parts of the week; without them, every moment outside business hours."""

    @model_validator(mode="after")
    def _dates_on_handover_days(self) -> RotationEntry:
        _weekday_as(self.handover, wanted=self.cadence == "weekly", at=("handover",))
        handover_day = self.handover.day
        for key, day in (("start_date", self.start_date), ("end_date", self.end_date)):
            if day is not None and handover_day is not None and day.weekday() != handover_day:
                raise problem(
                    f"{day} is a {DAY_LABELS[day.weekday()]}; this rotation hands over on "
                    f"{DAY_LABELS[handover_day]}",
                    key,
                )
        if self.end_date is not None and self.end_date <= self.start_date:
            raise problem(
                f"must be after start_date ({self.start_date}), got {self.end_date}", "end_date"
            )
        return self


class HolidayEntry(Section):
    """A whole local day without business hours."""

    date: LocalDate
    """Quoted: "2026-12-25"."""
    name: Text | None = None
    """Shown in messages ("holiday (Christmas Day): ...")."""


Holiday = Annotated[
    Annotated[LocalDate, Tag("text form")] | Annotated[HolidayEntry, Tag("mapping form")],
    Discriminator(lambda value: "mapping form" if isinstance(value, Mapping) else "text form"),
]


class OverrideEntry(Section):
    """One contact on call instead of everybody else, from start to end."""

    contact: Text
    """The contact's id; needs a phone."""
    start: LocalMoment
    """Local date and time, quoted: "2026-12-24 18:00" (an offset like +01:00 picks one
    of the two 02:30s of a fall-back night)."""
    end: LocalMoment
    """Local date and time, after start (exclusive)."""
    note: Text | None = None
    """Shown in messages ("swap with Carla")."""


class RosterDocument(Section):
    """Who is on call when, in one time zone: overrides, then business hours, then
    rotations. A moment nobody covers in the next 12 weeks is refused."""

    time_zone: TimeZoneName
    """IANA name; every time in the roster is local wall-clock time here."""
    business_hours: BusinessHoursEntry | None = None
    """When the desk is on call (first after overrides)."""
    rotations: tuple[RotationEntry, ...] = ()
    """Who covers the rest: nights, weekends, holidays."""
    holidays: tuple[Holiday, ...] = ()
    """Dates ("2026-12-24") or {date, name}."""
    overrides: tuple[OverrideEntry, ...] = ()
    """Swaps and cover, taking precedence over everything else."""
    escalation: ContactIds
    """Severity 3 alerts, and the 'escalation' step of alerts.escalation."""

    @field_validator("rotations")
    @classmethod
    def _names_unique(cls, rotations: tuple[RotationEntry, ...]) -> tuple[RotationEntry, ...]:
        names: set[str] = set()
        for index, rotation in enumerate(rotations):
            if rotation.name in names:
                raise problem(f"duplicate rotation name {rotation.name!r}", index, "name")
            names.add(rotation.name)
        return rotations

    @field_validator("holidays")
    @classmethod
    def _days_once(
        cls, holidays: tuple[date | HolidayEntry, ...]
    ) -> tuple[date | HolidayEntry, ...]:
        distinct(tuple(_holiday_date(item) for item in holidays), str)
        return holidays


def _holiday_date(item: date | HolidayEntry) -> date:
    return item if isinstance(item, date) else item.date


# --- from the document to the roster ----------------------------------------------------


class _Resolver:
    """Turns contact ids into contacts, with the phones each use needs."""

    def __init__(self, contacts: Mapping[str, Contact]) -> None:
        self.contacts = contacts

    def contact(self, value: str, *at: str | int) -> Contact:
        if value not in self.contacts:
            known = ", ".join(self.contacts) or "none"
            raise problem(f"no contact {value!r} in contacts (known: {known})", *at)
        return self.contacts[value]

    def pager(self, value: str, *at: str | int) -> Contact:
        """A contact who can be on call alone, so must have a phone."""
        contact = self.contact(value, *at)
        if contact.phone is None:
            raise problem(
                f"contact {contact.id!r} has no phone; whoever is on call gets the SMS", *at
            )
        return contact

    def with_a_phone(self, ids: tuple[str, ...], *at: str | int) -> tuple[Contact, ...]:
        """Contacts of which at least one can get an SMS."""
        contacts = tuple(self.contact(value, *at, index) for index, value in enumerate(ids))
        if not any(contact.phone for contact in contacts):
            raise problem(
                "none of these contacts has a phone; severity 2 and 3 alerts go out by SMS", *at
            )
        return contacts


def build_roster(document: RosterDocument, contacts: Mapping[str, Contact]) -> Roster:
    """The `Roster` a validated document describes; `problem` names a bad reference.

    Coverage is not checked here: see `Roster.coverage_gap`.
    """
    zone = ZoneInfo(document.time_zone)
    people = _Resolver(contacts)
    hours = document.business_hours
    business_hours = None
    if hours is not None:
        business_hours = BusinessHours(
            frozenset(hours.days),
            hours.start.minute,
            hours.end.minute,
            people.with_a_phone(hours.contacts, "business_hours", "contacts"),
        )
    rotations = tuple(
        Rotation(
            rotation.name,
            rotation.cadence,
            rotation.handover.minute,
            rotation.start_date,
            rotation.end_date,
            tuple(
                people.pager(value, "rotations", index, "order", position)
                for position, value in enumerate(rotation.order)
            ),
            tuple(window.window for window in rotation.covers),
        )
        for index, rotation in enumerate(document.rotations)
    )
    holidays = {
        _holiday_date(item): "" if isinstance(item, date) else item.name or ""
        for item in document.holidays
    }
    overrides = tuple(
        _override(item, people.pager(item.contact, "overrides", index, "contact"), zone, index)
        for index, item in enumerate(document.overrides)
    )
    escalation = people.with_a_phone(document.escalation, "escalation")
    return Roster(zone, business_hours, rotations, holidays, overrides, escalation)


def _override(item: OverrideEntry, contact: Contact, zone: ZoneInfo, index: int) -> Override:
    start, end = _utc(item.start, zone), _utc(item.end, zone)
    if end <= start:
        raise problem(
            f"must be after start ({moment_label(start, zone)}), got {moment_label(end, zone)}",
            "overrides",
            index,
            "end",
        )
    return Override(contact, start, end, item.note)


def _utc(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    return instant(moment, zone)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def covering_roster(
    document: RosterDocument,
    contacts: Mapping[str, Contact],
    *,
    now: datetime | None = None,
    horizon: timedelta = CHECK_HORIZON,
) -> Roster:
    """`build_roster`, refused with the first gap when somebody's night is uncovered."""
    roster = build_roster(document, contacts)
    gap = roster.coverage_gap(now or datetime.now(UTC), horizon)
    if gap is not None:
        raise problem(str(gap))
    return roster


def _roster_in_document(document: RosterDocument | None, info: ValidationInfo) -> Roster | None:
    if document is None:
        return None
    contacts = info.data.get("contacts")
    if contacts is None:
        raise problem("cannot be checked until contacts are valid")
    context: Mapping[str, Any] = info.context or {}
    if not context.get("check_coverage", True):
        return build_roster(document, contacts)
    return covering_roster(
        document,
        contacts,
        now=context.get("now"),
        horizon=context.get("horizon", CHECK_HORIZON),
    )


OnCallRoster = Annotated[Roster | None, read_as(RosterDocument | None, _roster_in_document)]
"""The document's `roster` section, read as the `Roster` (after `contacts`)."""


# --- one section alone ------------------------------------------------------------------


def parse_contacts(document: object) -> dict[str, Contact]:
    """The `contacts` section alone, validated like the whole document validates it."""
    from pydantic import TypeAdapter

    try:
        return dict(TypeAdapter(Contacts).validate_python(document))
    except ValidationError as error:
        raise config_error(error, "contacts") from None


def parse_roster(
    document: object,
    contacts: Mapping[str, Contact],
    *,
    now: datetime | None = None,
    horizon: timedelta = CHECK_HORIZON,
) -> Roster:
    """The `roster` section alone, validated and checked for gaps like the whole document."""
    try:
        section = RosterDocument.model_validate(document)
        return covering_roster(section, contacts, now=now, horizon=horizon)
    except ValidationError as error:
        raise config_error(error, "roster") from None
    except PydanticCustomError as error:
        raise problem_error(error, "roster") from None
