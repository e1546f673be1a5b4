"""The on-call roster: who gets the SMS right now, at 3 a.m. on a Sunday too.

Two sections of the config document. ``contacts`` is everyone the warn flow may reach;
``roster`` says who of them is on call when. All times are local wall-clock times in
the roster's ``time_zone``; quote them in YAML (an unquoted ``18:00`` is read by YAML as
the number 1080, and an unquoted date cannot be pushed to SSM as JSON)::

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

Who is on call at an instant, first rule that applies:

1. **Overrides** active then (``start`` inclusive, ``end`` exclusive). Overlapping
   overrides page all their contacts.
2. **Business hours**: on a listed weekday that is not a holiday, from ``start`` to
   ``end``: every contact in ``business_hours.contacts``.
3. **Rotations**: each rotation whose shift and ``covers`` windows include the instant
   contributes the one contact whose shift it is. Shifts change at the local ``handover``
   every day (``daily``) or every week (``weekly``), cycling through ``order`` from
   ``start_date``. Without ``covers`` a rotation covers every moment outside business
   hours (nights, weekends, holidays). A window may span business hours: business hours
   still win on working days, and the window then covers those hours on holidays. So a
   split between a weeknight and a weekend rotation that keeps holidays covered reads
   ``covers: [{from: "mon 09:00", to: "fri 09:00"}]`` and
   ``covers: [{from: "fri 09:00", to: "mon 09:00"}]``. Windows may also be daily
   (``{from: "18:00", to: "09:00"}``); an end at or before the start is on the next day
   (or week).

Daylight saving. Every rule above is evaluated on instants, never on wall times, after
each configured wall time has been turned into an instant in one way: a wall time that
does not exist (spring forward; 02:30 on 28 Mar 2027 in Berlin) means the moment the
clocks jump (03:00 CEST); a wall time that occurs twice (fall back; 02:30 on 25 Oct 2026)
means its first occurrence (fold=0, 02:30 CEST). An override time may carry an explicit
offset to say otherwise (``"2026-10-25 02:30+01:00"`` is the second 02:30). That mapping
never goes backwards, so a roster without gaps on the wall clock has none in real time,
one handover ends one shift exactly where the next begins (nobody is double-booked), and
a shift spanning a change is shorter or longer by the change (an hour in most zones).

Gaps. `parse_roster` refuses a roster that leaves any moment uncovered in the next
12 weeks (and up to the last dated entry: holidays, overrides, rotation start and end
dates), naming the first gap in local time. It checks exactly, not by sampling: coverage
only changes at a boundary (a handover, a business-hours edge, a window edge, a holiday
midnight, an override edge), so `Roster.shifts` evaluates each boundary once. The error
reads ``roster: nobody is on call Sat 21 Nov 18:00 - Mon 23 Nov 09:00 (Europe/Berlin)``.
Past the checked horizon (or before a rotation starts), `Roster.on_call` answers with the
escalation contacts rather than nobody.

Contacts: ``id`` is lowercase letters, digits, ``.``, ``_``, ``-``; ``phone`` is E.164
(``+`` and 8-15 digits, no spaces). Every contact that can be on call alone (rotation
members, override contacts) needs a phone; business hours and escalation need at least
one contact with a phone each, since severity 2 and 3 alerts go out by SMS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stormwatch.errors import ConfigError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHECK_HORIZON = timedelta(weeks=12)
"""How far ahead of `now` `parse_roster` proves that somebody is always on call."""

_DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_LABELS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MINUTES_PER_DAY = 24 * 60
# A gap that began before `now` is reported from where it began, within this look-back.
_LOOK_BACK = timedelta(days=8)
_DAY = timedelta(days=1)

_CONTACT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CLOCK = re.compile(r"^(?:(?P<day>[a-z]+)\s+)?(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_LOCAL_MOMENT = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?([+-][0-9]{2}:[0-9]{2}|Z)?$"
)

# "gap" only appears in `Roster.shifts`; `Roster.on_call` answers a gap with "fallback".
Source = Literal["override", "business_hours", "rotation", "gap", "fallback"]


# --- the model ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    name: str
    phone: str | None
    """E.164, e.g. +4915112345678; the SMS goes here."""
    email: str | None


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call at one instant, and why (for the message and the audit log)."""

    contacts: tuple[Contact, ...]
    reason: str
    source: Source

    @property
    def phones(self) -> tuple[str, ...]:
        return tuple(contact.phone for contact in self.contacts if contact.phone)


@dataclass(frozen=True, slots=True)
class Shift:
    """A stretch of time [start, end) with the same people on call for the same reason."""

    start: datetime
    end: datetime
    on_call: OnCall


@dataclass(frozen=True, slots=True)
class BusinessHours:
    days: frozenset[int]
    """Weekdays, Monday = 0."""
    start_minute: int
    end_minute: int
    """Minutes after local midnight; up to 1440 (24:00)."""
    contacts: tuple[Contact, ...]


@dataclass(frozen=True, slots=True)
class Window:
    """A part of every week (or of every day, when the days are None) in wall time."""

    start_day: int | None
    start_minute: int
    end_day: int | None
    end_minute: int

    @property
    def period_days(self) -> int:
        return 1 if self.start_day is None else 7

    @property
    def length_days(self) -> int:
        """Days from the start's date to the end's date."""
        days = 0 if self.start_day is None else ((self.end_day or 0) - self.start_day) % 7
        if days == 0 and self.end_minute <= self.start_minute:
            days = self.period_days
        return days

    def starts_on(self, day: date) -> bool:
        return self.start_day is None or day.weekday() == self.start_day


@dataclass(frozen=True, slots=True)
class Rotation:
    name: str
    cadence: Literal["daily", "weekly"]
    handover_minute: int
    start_date: date
    """A handover day: order[0] is on call from the handover that day."""
    end_date: date | None
    """The rotation stops at the handover that day; None: it goes on."""
    order: tuple[Contact, ...]
    covers: tuple[Window, ...] = ()
    """Empty: every moment outside business hours."""

    @property
    def period_days(self) -> int:
        return 7 if self.cadence == "weekly" else 1


@dataclass(frozen=True, slots=True)
class Override:
    contact: Contact
    start: datetime
    end: datetime
    """UTC instants; `start` inclusive, `end` exclusive."""
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Roster:
    """The validated roster; build it with `parse_roster`, which also proves it has no gap."""

    time_zone: ZoneInfo
    business_hours: BusinessHours | None
    rotations: tuple[Rotation, ...]
    holidays: Mapping[date, str] = field(default_factory=dict)
    """Local date -> name ('' when unnamed)."""
    overrides: tuple[Override, ...] = ()
    escalation: tuple[Contact, ...] = ()

    def on_call(self, at: datetime) -> OnCall:
        """Who gets the SMS at `at` (an aware datetime).

        A validated roster has somebody on call throughout the checked horizon. Outside
        it (before a rotation starts, after one ends) the escalation contacts stand in,
        with source "fallback", rather than nobody.
        """
        on_call = self._who(_aware(at, "at"))
        if on_call.source == "gap":
            return OnCall(
                self.escalation,
                "nobody on the roster at this time: escalation contacts",
                "fallback",
            )
        return on_call

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """Who is on call from `start` to `end`, as consecutive shifts (gaps included)."""
        start, end = _aware(start, "start"), _aware(end, "end")
        moments = self._boundaries(start, end)
        result: list[Shift] = []
        for index, moment in enumerate(moments):
            until = moments[index + 1] if index + 1 < len(moments) else end
            on_call = self._who(moment)
            if result and result[-1].on_call == on_call:
                result[-1] = replace(result[-1], end=until)
            else:
                result.append(Shift(moment, until, on_call))
        return result

    def first_gap(self, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
        """The first stretch in [start, end) with nobody on call, or None."""
        for shift in self.shifts(start, end):
            if shift.on_call.source == "gap":
                return shift.start, shift.end
        return None

    # --- evaluation -------------------------------------------------------------------

    def _instant(self, day: date, minute: int) -> datetime:
        return _instant(_wall(day, minute), self.time_zone)

    def _who(self, at: datetime) -> OnCall:
        overrides = [item for item in self.overrides if item.start <= at < item.end]
        if overrides:
            return OnCall(
                _unique(item.contact for item in overrides),
                "; ".join(self._override_reason(item) for item in overrides),
                "override",
            )
        business_hours = self.business_hours
        if business_hours is not None and self._in_business_hours(at, business_hours):
            names = ", ".join(contact.name for contact in business_hours.contacts)
            return OnCall(business_hours.contacts, f"business hours: {names}", "business_hours")
        people: list[Contact] = []
        reasons: list[str] = []
        for rotation in self.rotations:
            found = self._rotation_shift(rotation, at)
            if found is not None and self._covered(rotation, at):
                person, reason = found
                people.append(person)
                reasons.append(reason)
        if not people:
            return OnCall((), "nobody is on call", "gap")
        reason = "; ".join(reasons)
        holiday = self._holiday(at)
        if holiday is not None:
            reason = f"holiday ({holiday}): {reason}" if holiday else f"holiday: {reason}"
        return OnCall(_unique(people), reason, "rotation")

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.time_zone).date()

    def _in_business_hours(self, at: datetime, hours: BusinessHours) -> bool:
        day = self._local_date(at)
        # Business hours end by 24:00, so only the instant's own local date can hold them;
        # the day before is checked as well because a fall-back across midnight can make
        # the local date run backwards for an hour.
        for candidate in (day, day - timedelta(days=1)):
            if candidate.weekday() in hours.days and candidate not in self.holidays:
                start = self._instant(candidate, hours.start_minute)
                end = self._instant(candidate, hours.end_minute)
                if start <= at < end:
                    return True
        return False

    def _holiday(self, at: datetime) -> str | None:
        day = self._local_date(at)
        for candidate in (day, day - timedelta(days=1), day + timedelta(days=1)):
            if candidate in self.holidays:
                begins = self._instant(candidate, 0)
                ends = self._instant(candidate, _MINUTES_PER_DAY)
                if begins <= at < ends:
                    return self.holidays[candidate]
        return None

    def _rotation_shift(self, rotation: Rotation, at: datetime) -> tuple[Contact, str] | None:
        """The contact whose shift holds `at`, with the reason, or None outside the rotation."""
        period = rotation.period_days
        estimate = (self._local_date(at) - rotation.start_date).days // period
        # The latest handover at or before `at`; handovers are at least 23 hours apart, so
        # the one estimated from the local date is off by at most one.
        for index in (estimate + 1, estimate, estimate - 1):
            day = rotation.start_date + timedelta(days=index * period)
            if index >= 0 and self._instant(day, rotation.handover_minute) <= at:
                break
        else:
            return None
        if rotation.end_date is not None and at >= self._instant(
            rotation.end_date, rotation.handover_minute
        ):
            return None
        person = rotation.order[index % len(rotation.order)]
        if rotation.cadence == "weekly":
            label = f"week of {day.day} {_MONTH_LABELS[day.month - 1]}"
        else:
            label = f"shift from {_day_label(day)}"
        return person, f"{rotation.name}, {label}: {person.name}"

    def _covered(self, rotation: Rotation, at: datetime) -> bool:
        return not rotation.covers or any(self._in_window(item, at) for item in rotation.covers)

    def _in_window(self, window: Window, at: datetime) -> bool:
        day = self._local_date(at)
        period = window.period_days
        latest = day - timedelta(
            days=0 if window.start_day is None else (day.weekday() - window.start_day) % 7
        )
        # A window is never longer than its period, so only the latest start can hold `at`.
        for start_day in (latest + timedelta(days=period), latest, latest - timedelta(days=period)):
            if self._instant(start_day, window.start_minute) <= at:
                end_day = start_day + timedelta(days=window.length_days)
                return at < self._instant(end_day, window.end_minute)
        return False

    def _override_reason(self, override: Override) -> str:
        note = f" ({override.note})" if override.note else ""
        span = _span_label(override.start, override.end, self.time_zone)
        return f"override: {override.contact.name} covers {span}{note}"

    def _boundaries(self, start: datetime, end: datetime) -> list[datetime]:
        """Every instant in [start, end) at which who is on call, or why, may change."""
        moments = {start}
        first = self._local_date(start) - timedelta(days=2)
        last = self._local_date(end) + timedelta(days=2)
        day = first
        while day <= last:
            moments.update(self._boundaries_of_day(day))
            day += timedelta(days=1)
        for override in self.overrides:
            moments.update((override.start, override.end))
        return sorted(moment for moment in moments if start <= moment < end)

    def _boundaries_of_day(self, day: date) -> Iterator[datetime]:
        hours = self.business_hours
        if hours is not None and day.weekday() in hours.days and day not in self.holidays:
            yield self._instant(day, hours.start_minute)
            yield self._instant(day, hours.end_minute)
        if day in self.holidays:
            yield self._instant(day, 0)
            yield self._instant(day, _MINUTES_PER_DAY)
        for rotation in self.rotations:
            offset = (day - rotation.start_date).days
            if offset % rotation.period_days == 0:
                yield self._instant(day, rotation.handover_minute)
            for window in rotation.covers:
                if window.starts_on(day):
                    yield self._instant(day, window.start_minute)
                # Looked up from the end's own date: the window may have started a week ago.
                if window.starts_on(day - timedelta(days=window.length_days)):
                    yield self._instant(day, window.end_minute)


# --- wall time ------------------------------------------------------------------------


def _wall(day: date, minute: int) -> datetime:
    """A naive local wall time; minute 1440 is the next day's midnight."""
    return datetime(day.year, day.month, day.day) + timedelta(minutes=minute)


@lru_cache(maxsize=8192)
def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time, never going backwards as the wall time grows.

    A wall time that occurs twice means its first occurrence (fold=0). One that does not
    exist means the moment the clocks jumped: zoneinfo's own answer for it (the offset
    from before the jump) lands after later wall times, which could open a gap between a
    window ending at 03:00 and one starting at 02:30.
    """
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    offset_after = first.astimezone(zone).utcoffset()
    # Zone transitions are on whole seconds; a bisection finds this one exactly.
    low, high = before, first
    while (high - low) > timedelta(seconds=1):
        middle = low + timedelta(seconds=int((high - low).total_seconds()) // 2)
        if middle.astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return high


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _unique(contacts: Iterable[Contact]) -> tuple[Contact, ...]:
    return tuple(dict.fromkeys(contacts))


def _day_label(day: date) -> str:
    return f"{_DAY_LABELS[day.weekday()]} {day.day} {_MONTH_LABELS[day.month - 1]}"


def _moment_label(at: datetime, zone: ZoneInfo, *, year_unless: int | None = None) -> str:
    local = at.astimezone(zone)
    year = "" if local.year == year_unless else f" {local.year}"
    return f"{_day_label(local.date())}{year} {local:%H:%M}"


def _span_label(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """'24-27 Dec', '30 Nov - 2 Dec', or '24 Dec 10:00-14:00' within one day."""
    first = start.astimezone(zone)
    # An end at midnight belongs to the day before: "until 28 Dec 00:00" covers 24-27 Dec.
    last = (end - timedelta(microseconds=1)).astimezone(zone)
    if first.date() == last.date():
        day = f"{first.day} {_MONTH_LABELS[first.month - 1]}"
        return f"{day} {first:%H:%M}-{end.astimezone(zone):%H:%M}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}-{last.day} {_MONTH_LABELS[last.month - 1]}"
    tail = f" {last.year}" if first.year != last.year else ""
    head = f" {first.year}" if first.year != last.year else ""
    return (
        f"{first.day} {_MONTH_LABELS[first.month - 1]}{head} - "
        f"{last.day} {_MONTH_LABELS[last.month - 1]}{tail}"
    )


# --- reading the document -------------------------------------------------------------


class _Fields:
    """A mapping being read; every error names the full key path, as config._Section does.

    Kept here rather than imported so config.py can import this module without a cycle.
    """

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"must be a mapping, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def raw(self, name: str, *, required: bool) -> object:
        self.seen.add(name)
        value = self.data.get(name)
        if value is None and required:
            raise ConfigError(self.key(name), "required")
        return value

    def text(self, name: str) -> str:
        value = self.raw(name, required=True)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(self.key(name), f"must be a non-empty string, got {_kind(value)}")
        return value.strip()

    def optional_text(self, name: str) -> str | None:
        return None if self.raw(name, required=False) is None else self.text(name)

    def items(self, name: str, *, required: bool) -> list[tuple[str, object]]:
        """(path, value) of each entry of a list."""
        value = self.raw(name, required=required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(self.key(name), f"must be a list, got {_kind(value)}")
        if required and not value:
            raise ConfigError(self.key(name), "must not be empty")
        return [(f"{self.key(name)}[{index}]", item) for index, item in enumerate(value)]

    def reject_unknown(self) -> None:
        unknown = sorted(str(name) for name in self.data if name not in self.seen)
        if unknown:
            raise ConfigError(self.key(unknown[0]), "unknown key (typo?)")


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return repr(value)[:40] if isinstance(value, str) else type(value).__name__


def parse_contacts(items: object, path: str = "contacts") -> dict[str, Contact]:
    """Read the `contacts` list: id, name, and a phone (E.164) and/or an email."""
    if not isinstance(items, list) or not items:
        raise ConfigError(path, f"must be a non-empty list of contacts, got {_kind(items)}")
    contacts: dict[str, Contact] = {}
    first_seen: dict[str, str] = {}
    for index, item in enumerate(items):
        fields = _Fields(item, f"{path}[{index}]")
        contact_id = fields.text("id")
        if not _CONTACT_ID.match(contact_id):
            raise ConfigError(
                fields.key("id"),
                f"must be lowercase letters, digits, '.', '_' or '-' (max 40), got {contact_id!r}",
            )
        if contact_id in contacts:
            raise ConfigError(
                fields.key("id"),
                f"duplicate contact id {contact_id!r} (first at {first_seen[contact_id]})",
            )
        phone = fields.optional_text("phone")
        if phone is not None and not _E164.match(phone):
            raise ConfigError(
                fields.key("phone"),
                f"must be E.164 ('+' and 8-15 digits, no spaces, e.g. +4915112345678), "
                f"got {phone!r}",
            )
        email = fields.optional_text("email")
        if email is not None and not _EMAIL.match(email):
            raise ConfigError(fields.key("email"), f"must be an email address, got {email!r}")
        if phone is None and email is None:
            raise ConfigError(fields.key("phone"), "a contact needs a phone or an email")
        contacts[contact_id] = Contact(contact_id, fields.text("name"), phone, email)
        first_seen[contact_id] = fields.key("id")
        fields.reject_unknown()
    return contacts


def parse_roster(
    section: object,
    contacts: Mapping[str, Contact],
    path: str = "roster",
    *,
    now: datetime | None = None,
    horizon: timedelta = CHECK_HORIZON,
) -> Roster:
    """Read the `roster` section and prove it has no gap from `now` to `now + horizon`.

    Raises `ConfigError` naming the key of a bad value, or `path` itself with the first
    moment nobody is on call.
    """
    fields = _Fields(section, path)
    zone = _read_zone(fields)
    reader = _RosterReader(contacts, zone)
    hours_value = fields.raw("business_hours", required=False)
    business_hours = (
        None
        if hours_value is None
        else reader.business_hours(_Fields(hours_value, fields.key("business_hours")))
    )
    rotations = reader.rotations(fields.items("rotations", required=False))
    holidays = reader.holidays(fields.items("holidays", required=False))
    overrides = tuple(
        reader.override(_Fields(item, item_path))
        for item_path, item in fields.items("overrides", required=False)
    )
    escalation = reader.contact_list(
        fields.items("escalation", required=True), fields.key("escalation")
    )
    fields.reject_unknown()
    roster = Roster(zone, business_hours, rotations, holidays, overrides, escalation)
    _check_coverage(roster, path, now=_aware(now or datetime.now(UTC), "now"), horizon=horizon)
    return roster


def _read_zone(fields: _Fields) -> ZoneInfo:
    name = fields.text("time_zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            fields.key("time_zone"),
            f"unknown time zone {name!r} (an IANA name, e.g. Europe/Berlin)",
        ) from None


class _RosterReader:
    """Reads the parts of the roster that refer to contacts and to the time zone."""

    def __init__(self, contacts: Mapping[str, Contact], zone: ZoneInfo) -> None:
        self.contacts = contacts
        self.zone = zone

    def contact(self, value: object, path: str) -> Contact:
        if not isinstance(value, str) or value not in self.contacts:
            known = ", ".join(self.contacts) or "none"
            raise ConfigError(path, f"no contact {value!r} in contacts (known: {known})")
        return self.contacts[value]

    def contact_list(self, items: list[tuple[str, object]], path: str) -> tuple[Contact, ...]:
        """Contacts of which at least one can get an SMS."""
        result = self._distinct_contacts(items)
        if not any(contact.phone for contact in result):
            raise ConfigError(
                path, "none of these contacts has a phone; severity 2 and 3 alerts go out by SMS"
            )
        return result

    def _distinct_contacts(self, items: list[tuple[str, object]]) -> tuple[Contact, ...]:
        return tuple(self.contact(value, item_path) for item_path, value in _distinct(items))

    def pager(self, value: object, path: str) -> Contact:
        """A contact who can be on call alone, so must have a phone."""
        contact = self.contact(value, path)
        if contact.phone is None:
            raise ConfigError(
                path, f"contact {contact.id!r} has no phone; whoever is on call gets the SMS"
            )
        return contact

    def business_hours(self, fields: _Fields) -> BusinessHours:
        days = _read_days(fields.items("days", required=True))
        start = _read_clock(fields.raw("start", required=True), fields.key("start"), weekday=False)[
            1
        ]
        end = _read_clock(
            fields.raw("end", required=True), fields.key("end"), weekday=False, end=True
        )[1]
        if end <= start:
            raise ConfigError(
                fields.key("end"), f"must be after start ({_hhmm(start)}), got {_hhmm(end)!r}"
            )
        contacts = self.contact_list(
            fields.items("contacts", required=True), fields.key("contacts")
        )
        fields.reject_unknown()
        return BusinessHours(days, start, end, contacts)

    def rotations(self, items: list[tuple[str, object]]) -> tuple[Rotation, ...]:
        rotations: list[Rotation] = []
        for item_path, item in items:
            rotation = self.rotation(_Fields(item, item_path))
            if any(other.name == rotation.name for other in rotations):
                raise ConfigError(f"{item_path}.name", f"duplicate rotation name {rotation.name!r}")
            rotations.append(rotation)
        return tuple(rotations)

    def rotation(self, fields: _Fields) -> Rotation:
        name = fields.text("name")
        cadence = fields.text("cadence")
        if cadence not in ("daily", "weekly"):
            raise ConfigError(fields.key("cadence"), f"must be daily or weekly, got {cadence!r}")
        weekly = cadence == "weekly"
        handover_day, handover = _read_clock(
            fields.raw("handover", required=True), fields.key("handover"), weekday=weekly
        )
        start_date = _read_date(fields.raw("start_date", required=True), fields.key("start_date"))
        end_value = fields.raw("end_date", required=False)
        end_date = None if end_value is None else _read_date(end_value, fields.key("end_date"))
        for key, day in (("start_date", start_date), ("end_date", end_date)):
            if day is not None and handover_day is not None and day.weekday() != handover_day:
                raise ConfigError(
                    fields.key(key),
                    f"{day} is a {_DAY_LABELS[day.weekday()]}; this rotation hands over on "
                    f"{_DAY_LABELS[handover_day]}",
                )
        if end_date is not None and end_date <= start_date:
            raise ConfigError(
                fields.key("end_date"), f"must be after start_date ({start_date}), got {end_date}"
            )
        order = tuple(
            self.pager(value, item_path)
            for item_path, value in _distinct(fields.items("order", required=True))
        )
        covers = tuple(
            _read_window(_Fields(item, item_path))
            for item_path, item in fields.items("covers", required=False)
        )
        fields.reject_unknown()
        return Rotation(
            name, "weekly" if weekly else "daily", handover, start_date, end_date, order, covers
        )

    def holidays(self, items: list[tuple[str, object]]) -> dict[date, str]:
        holidays: dict[date, str] = {}
        for item_path, item in items:
            if isinstance(item, Mapping):
                fields = _Fields(item, item_path)
                day = _read_date(fields.raw("date", required=True), fields.key("date"))
                name = fields.optional_text("name") or ""
                fields.reject_unknown()
            else:
                day, name = _read_date(item, item_path), ""
            if day in holidays:
                raise ConfigError(item_path, f"{day} is listed twice")
            holidays[day] = name
        return holidays

    def override(self, fields: _Fields) -> Override:
        contact = self.pager(fields.raw("contact", required=True), fields.key("contact"))
        start = _read_moment(fields.raw("start", required=True), fields.key("start"), self.zone)
        end = _read_moment(fields.raw("end", required=True), fields.key("end"), self.zone)
        if end <= start:
            raise ConfigError(
                fields.key("end"),
                f"must be after start ({_moment_label(start, self.zone)}), "
                f"got {_moment_label(end, self.zone)}",
            )
        note = fields.optional_text("note")
        fields.reject_unknown()
        return Override(contact, start, end, note)


def _distinct(items: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """The items unchanged, after refusing one that repeats an earlier one."""
    seen: list[object] = []
    for item_path, value in items:
        if value in seen:
            raise ConfigError(item_path, f"{value!r} is listed twice")
        seen.append(value)
    return items


def _read_days(items: list[tuple[str, object]]) -> frozenset[int]:
    days: set[int] = set()
    for item_path, value in items:
        name = value.strip().lower() if isinstance(value, str) else None
        if name not in DAY_NAMES:
            raise ConfigError(
                item_path, f"must be one of {', '.join(DAY_NAMES)}, got {_kind(value)}"
            )
        day = DAY_NAMES.index(name)
        if day in days:
            raise ConfigError(item_path, f"{name!r} is listed twice")
        days.add(day)
    return frozenset(days)


def _read_clock(
    value: object, path: str, *, weekday: bool | None, end: bool = False
) -> tuple[int | None, int]:
    """('mon 09:00' or '09:00') -> (weekday or None, minutes after midnight).

    `weekday`: True requires a weekday, False forbids one, None accepts either.
    """
    example = '"09:00"' if weekday is False else '"mon 09:00"'
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 18:00 as sexagesimal 1080: say so instead of guessing.
        raise ConfigError(
            path,
            f"must be a quoted time like {example}; YAML reads an unquoted 18:00 as the number "
            f"1080, got {value}",
        )
    match = _CLOCK.match(value.strip().lower()) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(path, f"must be a time like {example}, got {_kind(value)}")
    day_name, hour, minute = match["day"], int(match["hour"]), int(match["minute"])
    if day_name is not None and day_name not in DAY_NAMES:
        raise ConfigError(path, f"unknown weekday {day_name!r} (use {', '.join(DAY_NAMES)})")
    if weekday is not None and weekday != (day_name is not None):
        wanted = (
            f"a weekday and a time, like {example}"
            if weekday
            else f"a time without a weekday, like {example}"
        )
        raise ConfigError(path, f"must be {wanted}, got {value!r}")
    if minute > 59 or hour > 24 or (hour == 24 and (minute or not end)):
        limit = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise ConfigError(path, f"no such time {value!r} (from {limit})")
    return (None if day_name is None else DAY_NAMES.index(day_name)), hour * 60 + minute


def _read_window(fields: _Fields) -> Window:
    start_day, start = _read_clock(
        fields.raw("from", required=True), fields.key("from"), weekday=None
    )
    end_day, end = _read_clock(
        fields.raw("to", required=True), fields.key("to"), weekday=start_day is not None, end=True
    )
    if end == _MINUTES_PER_DAY:
        # "sun 24:00" is "mon 00:00": one spelling of each moment keeps the arithmetic simple.
        end = 0
        end_day = None if end_day is None else (end_day + 1) % 7
    if (start_day, start) == (end_day, end):
        raise ConfigError(
            fields.key("to"), "must differ from 'from'; to cover all the time, leave 'covers' out"
        )
    fields.reject_unknown()
    return Window(start_day, start, end_day, end)


def _read_date(value: object, path: str) -> date:
    # PyYAML turns an unquoted 2026-11-23 into a date; JSON from SSM brings a string.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(path, f'must be a date like "2026-11-23", got {_kind(value)}')


def _read_moment(value: object, path: str, zone: ZoneInfo) -> datetime:
    """A local 'YYYY-MM-DD HH:MM' (or one with an explicit offset) as a UTC instant."""
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str) and _LOCAL_MOMENT.match(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None:
        raise ConfigError(
            path, f'must be a local date and time like "2026-12-24 18:00", got {_kind(value)}'
        )
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    return _instant(moment, zone)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _check_coverage(roster: Roster, path: str, *, now: datetime, horizon: timedelta) -> None:
    """Raise `ConfigError(path, ...)` naming the first gap that is not over by `now`."""
    until = now + horizon
    # Dated entries beyond the horizon are checked too: a holiday next year or a rotation
    # that starts in five months must not hide a gap until then.
    for rotation in roster.rotations:
        for day in (rotation.start_date, rotation.end_date):
            if day is not None:
                handover = _instant(_wall(day, rotation.handover_minute), roster.time_zone)
                until = max(until, handover + timedelta(weeks=2))
    for holiday in roster.holidays:
        until = max(until, _instant(_wall(holiday, _MINUTES_PER_DAY), roster.time_zone) + _DAY)
    for override in roster.overrides:
        until = max(until, override.end + timedelta(days=1))
    check_from = now - _LOOK_BACK
    for shift in roster.shifts(check_from, until):
        if shift.on_call.source != "gap" or shift.end <= now:
            continue
        zone = roster.time_zone
        year = now.astimezone(zone).year
        # A gap already open at the start of the look-back began who knows when: show now.
        begins = _moment_label(
            now if shift.start == check_from else shift.start, zone, year_unless=year
        )
        if shift.end >= until:
            raise ConfigError(path, f"nobody is on call from {begins} on ({zone.key})")
        ends = _moment_label(shift.end, zone, year_unless=year)
        raise ConfigError(path, f"nobody is on call {begins} - {ends} ({zone.key})")
