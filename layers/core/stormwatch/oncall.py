"""The on-call roster: who gets the SMS right now, at 3 a.m. on a Sunday too.

Shared domain, pure (standard library and zoneinfo): the Warn flow asks it who to page,
the config checks with it that nobody is ever left uncovered. The config document's
``contacts`` and ``roster`` sections, and how they are written, are in
`stormwatch.config.roster`, which builds a `Roster` from them.

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

Gaps. `Roster.coverage_gap` finds the first moment nobody is on call in the next
12 weeks (and up to the last dated entry: holidays, overrides, rotation start and end
dates); the config refuses a roster that has one, naming it in local time:
``roster: nobody is on call Sat 21 Nov 18:00 - Mon 23 Nov 09:00 (Europe/Berlin)``. It
checks exactly, not by sampling: coverage only changes at a boundary (a handover, a
business-hours edge, a window edge, a holiday midnight, an override edge), so
`Roster.shifts` evaluates each boundary once. Past the checked horizon (or before a
rotation starts), `Roster.on_call` answers with the escalation contacts rather than
nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHECK_HORIZON = timedelta(weeks=12)
"""How far ahead of `now` the config proves that somebody is always on call."""

DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_LABELS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MINUTES_PER_DAY = 24 * 60
# A gap that began before `now` is reported from where it began, within this look-back.
_LOOK_BACK = timedelta(days=8)
_DAY = timedelta(days=1)


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
class Gap:
    """A stretch with nobody on call, as the config error names it."""

    start: datetime
    end: datetime | None
    """None: the gap does not end within the checked time."""
    time_zone: ZoneInfo
    now: datetime
    """When it was found: the year of dates in this year goes unsaid."""

    def __str__(self) -> str:
        year = self.now.astimezone(self.time_zone).year
        begins = moment_label(self.start, self.time_zone, year_unless=year)
        if self.end is None:
            return f"nobody is on call from {begins} on ({self.time_zone.key})"
        ends = moment_label(self.end, self.time_zone, year_unless=year)
        return f"nobody is on call {begins} - {ends} ({self.time_zone.key})"


@dataclass(frozen=True, slots=True)
class Roster:
    """Who is on call when; `stormwatch.config` builds it and proves it has no gap."""

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

    def coverage_gap(self, now: datetime, horizon: timedelta = CHECK_HORIZON) -> Gap | None:
        """The first stretch nobody is on call that is not over by `now`, or None.

        Checked from `now` to `now + horizon`, and further up to every dated entry: a
        holiday next year or a rotation that starts in five months must not hide a gap
        until then. A gap already open at `now` is reported from where it began.
        """
        now = _aware(now, "now")
        until = now + horizon
        for rotation in self.rotations:
            for day in (rotation.start_date, rotation.end_date):
                if day is not None:
                    handover = self._instant(day, rotation.handover_minute)
                    until = max(until, handover + timedelta(weeks=2))
        for holiday in self.holidays:
            until = max(until, self._instant(holiday, MINUTES_PER_DAY) + _DAY)
        for override in self.overrides:
            until = max(until, override.end + _DAY)
        check_from = now - _LOOK_BACK
        for shift in self.shifts(check_from, until):
            if shift.on_call.source == "gap" and shift.end > now:
                # A gap already open at the start of the look-back began who knows when.
                start = now if shift.start == check_from else shift.start
                end = None if shift.end >= until else shift.end
                return Gap(start, end, self.time_zone, now)
        return None

    # --- evaluation -------------------------------------------------------------------

    def _instant(self, day: date, minute: int) -> datetime:
        return instant(wall_time(day, minute), self.time_zone)

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
                ends = self._instant(candidate, MINUTES_PER_DAY)
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
            yield self._instant(day, MINUTES_PER_DAY)
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


def wall_time(day: date, minute: int) -> datetime:
    """A naive local wall time; minute 1440 is the next day's midnight."""
    return datetime(day.year, day.month, day.day) + timedelta(minutes=minute)


@lru_cache(maxsize=8192)
def instant(wall: datetime, zone: ZoneInfo) -> datetime:
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
    return f"{DAY_LABELS[day.weekday()]} {day.day} {_MONTH_LABELS[day.month - 1]}"


def moment_label(at: datetime, zone: ZoneInfo, *, year_unless: int | None = None) -> str:
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
