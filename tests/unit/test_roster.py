"""The on-call roster: who gets the SMS, at any hour, across daylight saving; gaps refused."""

from __future__ import annotations

import copy
import itertools
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stormwatch.config import roster as roster_section
from stormwatch.config.roster import RosterDocument, build_roster, parse_contacts, parse_roster
from stormwatch.errors import ConfigError
from stormwatch.oncall import DAY_NAMES, Contact, Roster
from tests.helpers import examples

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday, 13:00 in Berlin
HOUR = timedelta(hours=1)

CONTACTS_DOCUMENT: list[dict[str, Any]] = [
    {"id": "desk", "name": "Comms desk", "phone": "+4930901820", "email": "desk@example.com"},
    {"id": "lena", "name": "Lena Wolf", "email": "lena@example.com"},
    {"id": "anna", "name": "Anna Berg", "phone": "+4915112345678"},
    {"id": "ben", "name": "Ben Kraus", "phone": "+4915223456789"},
    {"id": "carla", "name": "Carla Diaz", "phone": "+4917634567890"},
    {"id": "dieter", "name": "Dieter Vogt", "phone": "+4916045678901"},
]
CONTACTS = parse_contacts(CONTACTS_DOCUMENT)
ANCHOR = datetime(2026, 9, 21, 9, 0)  # a Monday handover: Anna's first week
ORDER = ("anna", "ben", "carla")
OVERRIDE = (datetime(2026, 12, 24, 17, 0, tzinfo=UTC), datetime(2026, 12, 27, 8, 0, tzinfo=UTC))
HOLIDAYS = {date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)}


def roster_document() -> dict[str, Any]:
    """A comms desk in business hours, one weekly rotation for everything else."""
    return {
        "time_zone": "Europe/Berlin",
        "business_hours": {
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "09:00",
            "end": "18:00",
            "contacts": ["desk", "lena"],
        },
        "rotations": [
            {
                "name": "night rotation",
                "cadence": "weekly",
                "handover": "mon 09:00",
                "start_date": "2026-09-21",
                "order": list(ORDER),
            }
        ],
        "holidays": [
            "2026-12-24",
            {"date": "2026-12-25", "name": "Christmas Day"},
            {"date": "2027-01-01", "name": "New Year's Day"},
        ],
        "overrides": [{"contact": "ben", "start": "2026-12-24 18:00", "end": "2026-12-27 09:00"}],
        "escalation": ["dieter"],
    }


def rotation_only(zone: str, cadence: str, handover: str, start_date: str) -> dict[str, Any]:
    return {
        "time_zone": zone,
        "rotations": [
            {
                "name": "on call",
                "cadence": cadence,
                "handover": handover,
                "start_date": start_date,
                "order": list(ORDER),
            }
        ],
        "escalation": ["dieter"],
    }


def build(document: dict[str, Any], now: datetime = NOW, **kwargs: Any) -> Roster:
    return parse_roster(document, CONTACTS, now=now, **kwargs)


def local(text: str, zone: ZoneInfo = BERLIN, fold: int = 0) -> datetime:
    """'2026-11-22 03:00' on the wall clock of `zone` as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold).astimezone(UTC)


def ids(contacts: tuple[Contact, ...]) -> list[str]:
    return [contact.id for contact in contacts]


def refusal(document: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_roster(document, CONTACTS, now=NOW)
    return caught.value


@pytest.fixture(scope="module")
def roster() -> Roster:
    return build(roster_document())


# --- who is on call -------------------------------------------------------------------


def test_at_3am_on_a_sunday_the_rotation_gets_the_sms(roster: Roster) -> None:
    # Given a desk in business hours and a weekly rotation for the rest
    # When a storm builds at 3 a.m. on Sunday 22 Nov
    on_call = roster.on_call(local("2026-11-22 03:00"))
    # Then the one person of that week is paged, on their phone, with the reason
    assert ids(on_call.contacts) == ["carla"]
    assert on_call.phones == ("+4917634567890",)
    assert on_call.source == "rotation"
    assert on_call.reason == "night rotation, week of 16 Nov: Carla Diaz"


def test_business_hours_page_every_desk_contact(roster: Roster) -> None:
    # Given business hours covered by the desk and Lena (who has no phone, only email)
    # When it is Tuesday 10:00
    on_call = roster.on_call(local("2026-11-24 10:00"))
    # Then both are on call; only the desk's number gets the SMS
    assert ids(on_call.contacts) == ["desk", "lena"]
    assert on_call.phones == ("+4930901820",)
    assert on_call.reason == "business hours: Comms desk, Lena Wolf"


@pytest.mark.parametrize(
    ("moment", "expected", "reason"),
    [
        ("2026-11-23 08:59", ["carla"], "night rotation, week of 16 Nov: Carla Diaz"),
        ("2026-11-23 09:00", ["desk", "lena"], "business hours: Comms desk, Lena Wolf"),
        ("2026-11-23 17:59", ["desk", "lena"], "business hours: Comms desk, Lena Wolf"),
        ("2026-11-23 18:00", ["anna"], "night rotation, week of 23 Nov: Anna Berg"),
        ("2026-11-28 12:00", ["anna"], "night rotation, week of 23 Nov: Anna Berg"),
        ("2026-11-30 08:59", ["anna"], "night rotation, week of 23 Nov: Anna Berg"),
        ("2026-11-30 18:00", ["ben"], "night rotation, week of 30 Nov: Ben Kraus"),
    ],
)
def test_shifts_change_at_local_handover_and_business_hours_edges(
    roster: Roster, moment: str, expected: list[str], reason: str
) -> None:
    # Given the weekly rotation handing over on Monday 09:00 local time
    # When asking around the handover and the business-hours edges
    on_call = roster.on_call(local(moment))
    # Then the edges are exactly where the config puts them (start inclusive, end exclusive)
    assert ids(on_call.contacts) == expected
    assert on_call.reason == reason


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-12-24 17:59", "holiday: night rotation, week of 21 Dec: Ben Kraus"),
        ("2026-12-24 18:00", "override: Ben Kraus covers 24-27 Dec"),
        ("2026-12-25 11:00", "override: Ben Kraus covers 24-27 Dec"),
        ("2026-12-27 08:59", "override: Ben Kraus covers 24-27 Dec"),
        ("2026-12-27 09:00", "night rotation, week of 21 Dec: Ben Kraus"),
    ],
)
def test_an_override_takes_precedence_for_its_range(
    roster: Roster, moment: str, expected: str
) -> None:
    # Given Ben covering 24 Dec 18:00 to 27 Dec 09:00
    # When asking inside and at the edges of that range
    on_call = roster.on_call(local(moment))
    # Then the override decides, and the reason says so
    assert on_call.reason == expected
    assert ids(on_call.contacts) == ["ben"]


def test_an_override_wins_over_business_hours_too() -> None:
    # Given Anna covering a Tuesday late morning, with a note
    document = roster_document()
    document["overrides"] = [
        {
            "contact": "anna",
            "start": "2026-12-01 10:00",
            "end": "2026-12-01 14:00",
            "note": "desk training",
        }
    ]
    roster = build(document)
    # When it is noon that day
    on_call = roster.on_call(local("2026-12-01 12:00"))
    # Then Anna is paged instead of the desk
    assert ids(on_call.contacts) == ["anna"]
    assert on_call.reason == "override: Anna Berg covers 1 Dec 10:00-14:00 (desk training)"
    assert ids(roster.on_call(local("2026-12-01 14:00")).contacts) == ["desk", "lena"]


def test_overlapping_overrides_page_everyone_in_them() -> None:
    # Given Ben covering the whole of Christmas and Carla a few hours of it
    document = roster_document()
    document["overrides"].append(
        {"contact": "carla", "start": "2026-12-25 10:00", "end": "2026-12-25 14:00"}
    )
    roster = build(document)
    # When both apply / Then both are on call: nobody is silently dropped
    assert ids(roster.on_call(local("2026-12-25 12:00")).contacts) == ["ben", "carla"]
    assert ids(roster.on_call(local("2026-12-25 14:00")).contacts) == ["ben"]


@pytest.mark.parametrize(
    ("moment", "expected", "reason"),
    [
        (
            "2027-01-01 11:00",
            ["carla"],
            "holiday (New Year's Day): night rotation, week of 28 Dec: Carla Diaz",
        ),
        ("2026-12-31 11:00", ["desk", "lena"], "business hours: Comms desk, Lena Wolf"),
        ("2027-01-04 11:00", ["desk", "lena"], "business hours: Comms desk, Lena Wolf"),
    ],
)
def test_a_holiday_on_a_weekday_goes_to_the_rotation(
    roster: Roster, moment: str, expected: list[str], reason: str
) -> None:
    # Given New Year's Day, a Friday, configured as a holiday
    # When a storm builds at 11:00 that day (and on the working days around it)
    on_call = roster.on_call(local(moment))
    # Then the rotation covers the holiday and the desk the working days
    assert ids(on_call.contacts) == expected
    assert on_call.reason == reason


def test_the_documented_example_is_valid_and_answers_as_documented() -> None:
    # Given the YAML example of the section's docstring (the one ops copy)
    assert roster_section.__doc__ is not None
    example = roster_section.__doc__.split("::", 1)[1].split("Contacts: ``id``", 1)[0]
    document = yaml.safe_load(example)
    # When it is parsed
    contacts = parse_contacts(document["contacts"])
    roster = parse_roster(document["roster"], contacts, now=NOW)
    # Then it is valid and pages the right people
    assert ids(roster.on_call(local("2026-11-22 03:00")).contacts) == ["anna"]
    assert ids(roster.escalation) == ["dieter"]
    assert roster.on_call(local("2026-12-25 03:00")).reason == (
        "override: Ben Kraus covers 24-27 Dec (swap with Carla)"
    )


def test_on_call_needs_an_aware_datetime(roster: Roster) -> None:
    # Given a naive datetime (a bug in the caller) / Then it is refused loudly
    with pytest.raises(ValueError, match="aware"):
        roster.on_call(datetime(2026, 11, 22, 3, 0))


def test_before_the_rotation_starts_the_escalation_contacts_stand_in(roster: Roster) -> None:
    # Given a moment before the rotation's first handover (outside any checked horizon)
    on_call = roster.on_call(local("2026-09-19 03:00"))
    # Then on_call still names somebody: the escalation contacts
    assert on_call.source == "fallback"
    assert ids(on_call.contacts) == ["dieter"]


def test_a_rotation_hands_over_to_its_successor_on_the_end_date() -> None:
    # Given the rotation ending on 4 Jan and a new two-person rotation starting then
    document = roster_document()
    document["rotations"][0]["end_date"] = "2027-01-04"
    document["rotations"].append(
        {
            "name": "new rotation",
            "cadence": "weekly",
            "handover": "mon 09:00",
            "start_date": "2027-01-04",
            "order": ["dieter", "anna"],
        }
    )
    roster = build(document)
    # When asking on the weekends before and after / Then each rotation covers its time
    assert ids(roster.on_call(local("2027-01-03 03:00")).contacts) == ["carla"]
    assert roster.on_call(local("2027-01-09 03:00")).reason == (
        "new rotation, week of 4 Jan: Dieter Vogt"
    )


def test_shifts_list_who_is_on_call_when(roster: Roster) -> None:
    # Given the roster / When listing a weekend
    shifts = roster.shifts(local("2026-11-27 12:00"), local("2026-11-30 12:00"))
    # Then the shifts are contiguous and name the handovers
    assert [(shift.start, ids(shift.on_call.contacts)) for shift in shifts] == [
        (local("2026-11-27 12:00"), ["desk", "lena"]),
        (local("2026-11-27 18:00"), ["anna"]),
        (local("2026-11-30 09:00"), ["desk", "lena"]),
    ]
    assert shifts[-1].end == local("2026-11-30 12:00")


# --- daylight saving --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "handover", "handover_utc", "before", "after"),
    [
        # Europe/Berlin springs forward 2027-03-28 02:00 -> 03:00
        ("Europe/Berlin", "2027-03-28", "02:30", "2027-03-28 01:00", 23.5, 23.5),
        ("Europe/Berlin", "2027-03-28", "09:00", "2027-03-28 07:00", 23, 24),
        ("Europe/Berlin", "2027-03-28", "18:00", "2027-03-28 16:00", 23, 24),
        # ... and falls back 2026-10-25 03:00 -> 02:00
        ("Europe/Berlin", "2026-10-25", "02:30", "2026-10-25 00:30", 24, 25),
        ("Europe/Berlin", "2026-10-25", "09:00", "2026-10-25 08:00", 25, 24),
        # America/New_York springs forward 2027-03-14 02:00 -> 03:00
        ("America/New_York", "2027-03-14", "02:30", "2027-03-14 07:00", 23.5, 23.5),
        ("America/New_York", "2027-03-14", "18:00", "2027-03-14 22:00", 23, 24),
        # ... and falls back 2026-11-01 02:00 -> 01:00
        ("America/New_York", "2026-11-01", "01:30", "2026-11-01 05:30", 24, 25),
        ("America/New_York", "2026-11-01", "18:00", "2026-11-01 23:00", 25, 24),
    ],
)
def test_daily_handovers_across_a_daylight_saving_change(
    zone: str, day: str, handover: str, handover_utc: str, before: float, after: float
) -> None:
    # Given a daily rotation handing over at a local wall time
    roster = build(
        rotation_only(zone, "daily", handover, "2026-09-01"), now=local("2026-10-01 00:00")
    )
    # When the clocks change that night
    instant = datetime.fromisoformat(handover_utc).replace(tzinfo=UTC)
    shifts = roster.shifts(instant - 2 * timedelta(days=1), instant + 2 * timedelta(days=1))
    starts = [shift.start for shift in shifts]
    # Then the handover is at the wall time (or right after the jump when it does not exist,
    # or at its first occurrence when it occurs twice) and the shifts around it are exactly
    # as long as the wall clock says
    assert instant in starts
    index = starts.index(instant)
    assert (starts[index] - starts[index - 1]) / HOUR == before
    assert (starts[index + 1] - starts[index]) / HOUR == after
    assert ids(shifts[index - 1].on_call.contacts) != ids(shifts[index].on_call.contacts)


@pytest.mark.parametrize(
    ("zone", "night", "handover"),
    [
        (BERLIN, "2027-03-28", "02:30"),
        (BERLIN, "2026-10-25", "02:30"),
        (BERLIN, "2026-10-25", "02:00"),
        (NEW_YORK, "2027-03-14", "02:00"),
        (NEW_YORK, "2026-11-01", "01:00"),
        (NEW_YORK, "2026-11-01", "01:59"),
    ],
)
def test_nobody_is_double_booked_and_nobody_missing_on_a_daylight_saving_night(
    zone: ZoneInfo, night: str, handover: str
) -> None:
    # Given a daily rotation handing over inside the hour that is skipped or repeated
    roster = build(
        rotation_only(zone.key, "daily", handover, "2026-09-01"), now=local("2026-10-01 00:00")
    )
    # When sampling every minute of that night (a test may brute-force what the code derives)
    start = datetime.fromisoformat(f"{night} 00:00").replace(tzinfo=zone).astimezone(UTC)
    people = [roster.on_call(start + timedelta(minutes=m)).contacts for m in range(6 * 60)]
    # Then exactly one person is on call each minute, and the person changes once, never back
    assert all(len(contacts) == 1 for contacts in people)
    changes = sum(1 for a, b in itertools.pairwise(people) if a != b)
    assert changes == 1


@pytest.mark.parametrize(
    ("zone", "week_start", "hours"),
    [
        (BERLIN, "2027-03-22", 167),
        (BERLIN, "2026-10-19", 169),
        (NEW_YORK, "2027-03-08", 167),
        (NEW_YORK, "2026-10-26", 169),
    ],
)
def test_a_weekly_shift_spanning_the_change_is_an_hour_shorter_or_longer(
    zone: ZoneInfo, week_start: str, hours: int
) -> None:
    # Given a weekly rotation handing over on Monday 09:00
    roster = build(
        rotation_only(zone.key, "weekly", "mon 09:00", "2026-09-07"), now=local("2026-10-01 00:00")
    )
    # When the week holds a daylight-saving change
    start = local(f"{week_start} 09:00", zone)
    shifts = roster.shifts(start, start + timedelta(days=8))
    # Then that shift is 167 or 169 hours long
    assert (shifts[0].end - shifts[0].start) / HOUR == hours


@pytest.mark.parametrize(
    ("start", "expected_utc"),
    [
        ("2027-03-28 02:30", "2027-03-28 01:00"),  # does not exist: the moment clocks jump
        ("2026-10-25 02:30", "2026-10-25 00:30"),  # happens twice: the first time (fold=0)
        ("2026-10-25 02:30+01:00", "2026-10-25 01:30"),  # an explicit offset says which one
    ],
)
def test_override_times_that_do_not_exist_or_repeat_resolve_deterministically(
    start: str, expected_utc: str
) -> None:
    # Given an override starting inside the hour the clocks skip or repeat
    document = roster_document()
    document["overrides"] = [{"contact": "anna", "start": start, "end": "2027-03-29 12:00"}]
    roster = build(document, now=local("2026-10-01 00:00"))
    # Then its start is the documented instant
    assert roster.overrides[0].start == datetime.fromisoformat(expected_utc).replace(tzinfo=UTC)


# --- gaps -------------------------------------------------------------------------------


def test_business_hours_alone_are_refused_with_the_first_gap_named() -> None:
    # Given business hours and no rotation
    document = roster_document()
    del document["rotations"]
    # When it is loaded on a Friday afternoon / Then the first night is the gap
    error = refusal(document)
    assert error.key == "roster"
    assert error.problem == "nobody is on call Fri 20 Nov 18:00 - Mon 23 Nov 09:00 (Europe/Berlin)"


def test_a_rotation_covering_only_weeknights_is_refused_with_the_weekend_named() -> None:
    # Given business hours Monday to Saturday and a rotation for weeknights only
    document = roster_document()
    document["business_hours"]["days"].append("sat")
    document["rotations"][0]["covers"] = [{"from": "mon 18:00", "to": "sat 09:00"}]
    # When it is loaded on Sunday morning, inside the gap
    with pytest.raises(ConfigError) as caught:
        build(document, now=local("2026-11-22 07:00"))
    # Then the gap is named from where it began
    assert caught.value.key == "roster"
    assert caught.value.problem == (
        "nobody is on call Sat 21 Nov 18:00 - Mon 23 Nov 09:00 (Europe/Berlin)"
    )


def weeknights_and_weekends(weeknights_from: str) -> dict[str, Any]:
    document = roster_document()
    weekday = {
        **document["rotations"][0],
        "name": "weeknights",
        "cadence": "daily",
        "handover": "18:00",
    }
    weekday["covers"] = [{"from": f"mon {weeknights_from}", "to": "fri 09:00"}]
    weekend = {**document["rotations"][0], "name": "weekends", "order": ["dieter", "anna"]}
    weekend["covers"] = [{"from": "fri 09:00", "to": "mon 09:00"}]
    document["rotations"] = [weekday, weekend]
    document["overrides"] = []
    return document


def test_a_split_that_misses_a_holiday_is_refused_with_the_holiday_named() -> None:
    # Given weeknights from Mon 09:00 to Fri 09:00 and weekends from Fri 09:00 to Mon 09:00,
    # spanning business hours so that holidays on any weekday are covered
    roster = build(weeknights_and_weekends("09:00"))
    assert roster.on_call(local("2026-12-25 11:00")).reason.startswith(
        "holiday (Christmas Day): weekends"
    )
    document = weeknights_and_weekends("18:00")
    document["holidays"].append("2027-04-05")  # Easter Monday, 19 weeks ahead
    # When weeknights start only at Mon 18:00, Easter Monday 09:00-18:00 is in neither window
    error = refusal(document)
    # Then the holiday's daytime is the gap, even beyond the 12-week horizon
    assert error.problem == (
        "nobody is on call Mon 5 Apr 2027 09:00 - Mon 5 Apr 2027 18:00 (Europe/Berlin)"
    )


def test_a_rotation_that_ends_without_a_successor_is_refused() -> None:
    # Given the rotation ending on 4 Jan and nothing after it
    document = roster_document()
    document["rotations"][0]["end_date"] = "2027-01-04"
    document["business_hours"] = None
    # When loaded / Then the open end is named
    assert refusal(document).problem == (
        "nobody is on call from Mon 4 Jan 2027 09:00 on (Europe/Berlin)"
    )


def test_a_rotation_that_starts_next_week_leaves_this_week_uncovered() -> None:
    # Given the only rotation starting on Monday 30 Nov
    document = roster_document()
    document["rotations"][0]["start_date"] = "2026-11-30"
    # When loaded on Friday 20 Nov / Then the first night without anyone is named
    assert refusal(document).problem == (
        "nobody is on call Fri 20 Nov 18:00 - Mon 23 Nov 09:00 (Europe/Berlin)"
    )


# --- every bad value names its key -----------------------------------------------------


class _Delete:
    """Marks a key to remove; its repr keeps test ids the same on every collection (xdist)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def put(document: Any, key: str, value: object) -> None:
    """Set `key` ('rotations[0].order[3]') in `document`; an index one past the end appends."""
    *parents, last = re.findall(r"[^.\[\]]+", key)
    target = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if last.isdigit():
        index = int(last)
        if index == len(target):
            target.append(value)
        else:
            target[index] = value
    elif value is DELETE:
        del target[last]
    else:
        target[last] = value


def bad(key: str, value: object, problem: str, error_key: str | None = None) -> Any:
    return pytest.param(key, value, error_key or key, problem, id=f"{key}={value!r}"[:60])


ROTATION: dict[str, Any] = {"name": "night rotation", "cadence": "daily", "handover": "18:00"}
ROTATION |= {"start_date": "2026-09-21", "order": ["anna"]}


@pytest.mark.parametrize(
    ("key", "value", "error_key", "problem"),
    [
        bad("time_zone", "Europe/Berln", "unknown time zone 'Europe/Berln'"),
        bad("time_zone", "../etc/passwd", "unknown time zone"),
        bad("time_zone", DELETE, "required"),
        bad("rotaton", [], "unknown key (typo?)"),
        bad("business_hours.start", "25:00", "no such time '25:00' (from 00:00 to 23:59)"),
        bad("business_hours.start", "24:00", "no such time"),
        bad("business_hours.start", "9.00", 'must be a time like "09:00"'),
        bad("business_hours.end", 1080, 'quoted time like "09:00"; YAML reads an unquoted'),
        bad("business_hours.end", "08:00", "must be after start (09:00), got '08:00'"),
        bad("business_hours.days[5]", "funday", "must be one of mon, tue"),
        bad("business_hours.days[5]", "mon", "'mon' is listed twice"),
        bad("business_hours.days", [], "must not be empty"),
        bad("business_hours.contacts[2]", "nobody", "no contact 'nobody' in contacts (known:"),
        bad("business_hours.contacts", ["lena"], "none of these contacts has a phone"),
        bad("rotations[0].order[3]", "bne", "no contact 'bne'"),
        bad("rotations[0].order[3]", "anna", "'anna' is listed twice"),
        bad("rotations[0].order[3]", "lena", "contact 'lena' has no phone"),
        bad("rotations[0].order", [], "must not be empty"),
        bad("rotations[0].cadence", "hourly", "must be one of daily, weekly, got 'hourly'"),
        bad("rotations[0].handover", "09:00", 'must be a weekday and a time, like "mon 09:00"'),
        bad("rotations[0].handover", "funday 09:00", "unknown weekday 'funday'"),
        bad("rotations[0].start_date", "2026-09-22", "2026-09-22 is a Tue; this rotation"),
        bad("rotations[0].start_date", "2026-13-01", 'must be a date like "2026-11-23"'),
        bad("rotations[0].end_date", "2026-09-14", "must be after start_date (2026-09-21)"),
        bad("rotations[1]", ROTATION, "duplicate rotation name", "rotations[1].name"),
        bad(
            "rotations[0].covers",
            [{"from": "mon 18:00", "to": "mon 18:00"}],
            "must differ",
            "rotations[0].covers[0].to",
        ),
        bad(
            "rotations[0].covers",
            [{"from": "mon 00:00", "to": "sun 24:00"}],
            "must differ",
            "rotations[0].covers[0].to",
        ),
        bad(
            "rotations[0].covers",
            [{"from": "mon 18:00", "to": "09:00"}],
            "a weekday",
            "rotations[0].covers[0].to",
        ),
        bad(
            "rotations[0].covers",
            [{"from": "18:00", "til": "09:00"}],
            "required",
            "rotations[0].covers[0].to",
        ),
        bad("holidays[3]", "2027-02-30", "must be a date"),
        bad("holidays[3]", "2026-12-24", "2026-12-24 is listed twice"),
        bad("holidays[3]", {"day": "2027-04-05"}, "required", "holidays[3].date"),
        bad("overrides[0].end", "2026-12-24 17:00", "must be after start (Thu 24 Dec 2026 18:00)"),
        bad("overrides[0].start", "24.12.2026 18:00", "must be a local date and time"),
        bad("overrides[0].start", "2026-12-24 25:00", "must be a local date and time"),
        bad("overrides[0].contact", "benn", "no contact 'benn'"),
        bad("overrides[0].contact", "lena", "contact 'lena' has no phone"),
        bad("escalation", DELETE, "required"),
        bad("escalation", ["lena"], "none of these contacts has a phone"),
        bad("escalation[1]", "dieter", "'dieter' is listed twice"),
    ],
)
def test_each_bad_roster_value_names_its_key(
    key: str, value: object, error_key: str, problem: str
) -> None:
    # Given a valid roster with one bad value
    document = roster_document()
    put(document, key, value)
    # When it is loaded / Then the error names exactly that key and what is wrong
    error = refusal(document)
    assert error.key == f"roster.{error_key}"
    assert problem in error.problem


@pytest.mark.parametrize(
    ("key", "value", "error_key", "problem"),
    [
        bad(
            "[6]",
            {"id": "anna", "name": "Anna", "phone": "+4915112345678"},
            "duplicate contact id 'anna' (first at contacts[2].id)",
            "[6].id",
        ),
        bad("[2].id", "Anna Berg", "must be lowercase letters"),
        bad("[2].phone", "+49 151 12345678", "must be E.164"),
        bad("[2].phone", "015112345678", "must be E.164"),
        bad("[2].phone", "+1234567", "must be E.164"),
        bad("[2].phone", "+0151123456789", "must be E.164"),
        bad("[2].phone", "+1234567890123456", "must be E.164"),
        bad("[1].email", "lena.example.com", "must be an email address"),
        bad("[1].email", DELETE, "a contact needs a phone or an email", "[1].phone"),
        bad("[2].name", DELETE, "required"),
        bad("[2].mobile", "+4915112345678", "unknown key (typo?)"),
        bad("[6]", "anna", "must be a mapping"),
    ],
)
def test_each_bad_contact_value_names_its_key(
    key: str, value: object, error_key: str, problem: str
) -> None:
    # Given the contacts with one bad value
    contacts = copy.deepcopy(CONTACTS_DOCUMENT)
    put(contacts, key, value)
    # When they are read / Then the error names exactly that key
    with pytest.raises(ConfigError) as caught:
        parse_contacts(contacts)
    assert caught.value.key == f"contacts{error_key}"
    assert problem in caught.value.problem


def test_contacts_and_roster_must_be_there() -> None:
    with pytest.raises(ConfigError, match="contacts: must be a list, got nothing"):
        parse_contacts(None)
    with pytest.raises(ConfigError, match="contacts: must not be empty"):
        parse_contacts([])
    assert refusal(None).key == "roster"


def test_yaml_dates_and_datetimes_are_read_like_their_quoted_forms() -> None:
    # Given YAML that left dates and an override time with seconds unquoted
    document = roster_document()
    document["rotations"][0]["start_date"] = date(2026, 9, 21)
    document["holidays"][0] = date(2026, 12, 24)
    document["overrides"][0]["start"] = datetime(2026, 12, 24, 18, 0)
    # When loaded / Then it is the same roster
    assert build(document) == build(roster_document())


# --- properties -------------------------------------------------------------------------

PROPERTY_NOW = datetime(2026, 10, 1, tzinfo=UTC)
PROPERTY_HORIZON = timedelta(weeks=27)  # through both Berlin changes: 25 Oct and 28 Mar
DST_NIGHTS = (local("2026-10-25 02:00"), local("2027-03-28 02:00"))


def expected_on_call(at: datetime) -> set[str]:
    """The roster of roster_document(), computed the naive way on the local wall clock.

    Valid here because none of its wall times falls into a skipped or repeated hour.
    """
    if OVERRIDE[0] <= at < OVERRIDE[1]:
        return {"ben"}
    wall = at.astimezone(BERLIN).replace(tzinfo=None)
    if wall.date() not in HOLIDAYS and wall.weekday() < 5 and 9 <= wall.hour < 18:
        return {"desk", "lena"}
    weeks = (wall - ANCHOR) // timedelta(weeks=1)
    return {ORDER[weeks % len(ORDER)]}


@pytest.fixture(scope="module")
def long_roster() -> Roster:
    return build(roster_document(), now=PROPERTY_NOW, horizon=PROPERTY_HORIZON)


instants_in_horizon = st.one_of(
    st.integers(0, int(PROPERTY_HORIZON.total_seconds())).map(
        lambda s: PROPERTY_NOW + timedelta(seconds=s)
    ),
    # Weight the daylight-saving nights and the Christmas override: that is where bugs live.
    st.tuples(
        st.sampled_from([*DST_NIGHTS, OVERRIDE[0], OVERRIDE[1]]), st.integers(-6 * 3600, 6 * 3600)
    ).map(lambda pair: pair[0] + timedelta(seconds=pair[1])),
)


@settings(max_examples=examples(300), deadline=None)
@given(at=instants_in_horizon)
def test_property_exactly_the_expected_people_are_on_call(
    long_roster: Roster, at: datetime
) -> None:
    # Given the roster, valid over 27 weeks / When asking at any instant of them
    on_call = long_roster.on_call(at)
    # Then it answers, with exactly the people the wall clock says
    assert set(ids(on_call.contacts)) == expected_on_call(at)
    assert on_call.reason


@st.composite
def random_rosters(draw: st.DrawFn) -> tuple[dict[str, Any], datetime]:
    """A valid roster in a zone with daylight saving (some at midnight, some by 30 min)."""
    zone_name = draw(
        st.sampled_from(
            [
                "Europe/Berlin",
                "America/New_York",
                "America/Santiago",
                "Australia/Lord_Howe",
                "Asia/Kolkata",
            ]
        )
    )
    zone = ZoneInfo(zone_name)
    now = draw(st.datetimes(datetime(2026, 1, 1), datetime(2028, 12, 31))).replace(tzinfo=UTC)
    weekly = draw(st.booleans())
    weekday = draw(st.integers(0, 6))
    minute = draw(st.integers(0, 24 * 60 - 1))
    clock = f"{minute // 60:02d}:{minute % 60:02d}"
    start = now.astimezone(zone).date() - timedelta(days=draw(st.integers(9, 400)))
    if weekly:
        start -= timedelta(days=(start.weekday() - weekday) % 7)
    rotation = {
        "name": "rotation",
        "cadence": "weekly" if weekly else "daily",
        "handover": f"{DAY_NAMES[weekday]} {clock}" if weekly else clock,
        "start_date": start.isoformat(),
        "order": draw(st.lists(st.sampled_from(ORDER), min_size=1, max_size=3, unique=True)),
    }
    document: dict[str, Any] = {
        "time_zone": zone_name,
        "rotations": [rotation],
        "escalation": ["dieter"],
    }
    if draw(st.booleans()):
        first, last = sorted(
            draw(st.lists(st.integers(0, 24 * 60), min_size=2, max_size=2, unique=True))
        )
        document["business_hours"] = {
            "days": draw(st.lists(st.sampled_from(DAY_NAMES), min_size=1, unique=True)),
            "start": f"{first // 60:02d}:{first % 60:02d}" if first < 24 * 60 else "23:59",
            "end": f"{last // 60:02d}:{last % 60:02d}",
            "contacts": ["desk"],
        }
    return document, now


@settings(max_examples=examples(150), deadline=None)
@given(case=random_rosters(), offset=st.integers(0, int(timedelta(weeks=12).total_seconds()) - 1))
def test_property_a_covering_rotation_never_leaves_a_gap_nor_double_books(
    case: tuple[dict[str, Any], datetime], offset: int
) -> None:
    # Given any roster whose rotation covers all time outside business hours
    document, now = case
    roster = build(document, now=now)  # Then it loads: no gap, whatever the zone does
    # When asking at any instant of the horizon
    at = now + timedelta(seconds=offset)
    on_call = roster.on_call(at)
    # Then exactly one rotation member or the desk is on call, never the fallback
    if on_call.source == "rotation":
        assert len(on_call.contacts) == 1
        assert on_call.contacts[0].id in document["rotations"][0]["order"]
    else:
        assert on_call.source == "business_hours"
        assert ids(on_call.contacts) == ["desk"]
    # And the shift listing agrees with it (its boundaries miss no change)
    around = roster.shifts(at - timedelta(days=3), at + timedelta(days=3))
    (holding,) = [shift for shift in around if shift.start <= at < shift.end]
    assert holding.on_call == on_call
    assert all(a.end == b.start for a, b in itertools.pairwise(around))


DST_DAYS = [
    ("Europe/Berlin", date(2026, 10, 25)),
    ("Europe/Berlin", date(2027, 3, 28)),
    ("America/New_York", date(2026, 11, 1)),
    ("America/New_York", date(2027, 3, 14)),
    ("America/Santiago", date(2027, 4, 4)),
    ("America/Santiago", date(2027, 9, 5)),
    ("Australia/Lord_Howe", date(2027, 4, 4)),
]


def clock_text(minute: int, day: int | None = None) -> str:
    text = f"{minute // 60:02d}:{minute % 60:02d}"
    return text if day is None else f"{DAY_NAMES[day]} {text}"


@st.composite
def patchy_rosters(draw: st.DrawFn) -> tuple[dict[str, Any], datetime]:
    """Rosters that may well have gaps: partial windows, holidays, short business hours."""
    zone_name, dst_day = draw(st.sampled_from(DST_DAYS))
    zone = ZoneInfo(zone_name)
    minutes = st.integers(0, 24 * 60 - 1)
    weekly_windows = draw(st.booleans())
    windows = []
    for _ in range(draw(st.integers(1, 2))):
        start_day = draw(st.integers(0, 6)) if weekly_windows else None
        end_day = draw(st.integers(0, 6)) if weekly_windows else None
        start, end = draw(minutes), draw(minutes)
        if (start_day, start) != (end_day, end):
            windows.append({"from": clock_text(start, start_day), "to": clock_text(end, end_day)})
    start_date = dst_day - timedelta(days=40)
    rotation = {
        "name": "rotation",
        "cadence": "daily",
        "handover": clock_text(draw(minutes)),
        "start_date": start_date.isoformat(),
        "order": ["anna", "ben"],
        "covers": windows or None,
    }
    first, last = sorted(draw(st.lists(minutes, min_size=2, max_size=2, unique=True)))
    holidays = draw(st.lists(st.integers(-1, 2), unique=True, max_size=2))
    document = {
        "time_zone": zone_name,
        "business_hours": {
            "days": draw(st.lists(st.sampled_from(DAY_NAMES), min_size=1, unique=True)),
            "start": clock_text(first),
            "end": clock_text(last),
            "contacts": ["desk"],
        },
        "rotations": [rotation],
        "holidays": [(dst_day + timedelta(days=offset)).isoformat() for offset in holidays],
        "escalation": ["dieter"],
    }
    # From 18:00 the evening before: the scan then spans the night of the change.
    now = datetime.combine(dst_day - timedelta(days=1), time(18, 0), tzinfo=zone)
    return document, now.astimezone(UTC)


@settings(max_examples=examples(30), deadline=None)
@given(case=patchy_rosters())
def test_property_the_analytic_gap_check_finds_what_a_minute_by_minute_scan_finds(
    case: tuple[dict[str, Any], datetime],
) -> None:
    # Given a roster that may have gaps, around a daylight-saving change
    document, now = case
    roster = build_roster(RosterDocument.model_validate(document), CONTACTS)
    # When scanning every minute of 30 hours across the change (configured times and zone
    # changes fall on whole minutes, so nothing is missed between two samples)
    minutes = [now + timedelta(minutes=m) for m in range(30 * 60)]
    end = minutes[-1] + timedelta(minutes=1)
    uncovered = [roster.on_call(at).source == "fallback" for at in minutes]
    # Then the boundary-based check finds the same first gap, start and end
    gap = roster.first_gap(now, end)
    if not any(uncovered):
        assert gap is None
        return
    first = uncovered.index(True)
    assert gap == (
        minutes[first],
        minutes[uncovered.index(False, first)] if False in uncovered[first:] else end,
    )
