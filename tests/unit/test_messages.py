"""What an alert says by email and by SMS: lengths, encodings, wording per kind, data as data."""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stormwatch.text import clean_text
from stormwatch.warn.messages import (
    EXCERPT_CHARS,
    SUBJECT_LIMIT,
    Acknowledgement,
    ChannelCount,
    Escalation,
    Notice,
    Resolution,
    TopMention,
    Totals,
    email,
    excerpt,
    gsm7_length,
    read_again_email,
    sms,
    sms_segments,
    ucs2_length,
)
from stormwatch.warn.vocabulary import AlertEvent, Finding, Rule
from tests.helpers import examples

T0 = datetime(2026, 11, 22, 3, 5, tzinfo=UTC)  # Sunday 04:05 in Berlin
ACK = "stormwatch ack nordwind-air-20261122-0305"
PAUSE = "stormwatch pause --alert nordwind-air-20261122-0305"
# No "#" in it: the property tests mark generated words with "#" (see `_cut_words`).
RUNBOOK = "Buffer and Later by hand: runbook wiki.nordwind.example/crisis/pause"
FINDINGS = (
    Finding(Rule.VOLUME, "ALL", 3, 1240, 112, 60, "1240 mentions in 60 min, about 112 usual"),
    Finding(Rule.NEGATIVE_SHARE, "ALL", 2, 0.78, 0.6, 30, "78% of 610 mentions negative"),
    Finding(Rule.STATIC, "x", 2, 820, 200, 15, "820 mentions in 15 min (threshold 200)"),
)
CHANNELS = (ChannelCount("facebook", 310), ChannelCount("x", 820), ChannelCount("instagram", 110))
TOP = (
    TopMention("x", "@jdoe", "Stuck at BER for 6 hours, no info", "https://x.com/j/1", 12400),
    TopMention("facebook", "Anna Łukasiewicz", "Cancelled again!", "https://fb.com/p/2", 800),
)
RESOLUTION = Resolution(
    duration=timedelta(hours=2, minutes=35),
    peak_at=T0 + timedelta(minutes=30),
    peak_count=1240,
    before=Totals(1020, 0.12),
    during=Totals(8400, 0.71),
    peak_bucket_minutes=5,
)
BLIND_FINDINGS = (
    Finding(Rule.FAILING, "x", 1, 6, None, 45, "6 polls in a row failed (last: HTTP 401)"),
)


def notice(kind: AlertEvent = AlertEvent.STARTED, **changes: Any) -> Notice:
    """A critical Nordwind Air alert 40 minutes in, with what each kind needs."""
    fields: dict[str, Any] = {
        "brand_name": "Nordwind Air",
        "brand_id": "nordwind-air",
        "alert_id": "nordwind-air-20261122-0305",
        "kind": kind,
        "severity": 3,
        "started_at": T0,
        "now": T0 + timedelta(minutes=40),
        "time_zone": "Europe/Berlin",
        "findings": FINDINGS,
        "channels": CHANNELS,
        "top_negative": TOP,
        "ack_command": ACK,
        "pause_command": PAUSE,
    }
    if kind is AlertEvent.RESOLVED:
        fields["resolution"] = RESOLUTION
        fields["now"] = T0 + RESOLUTION.duration
    if kind is AlertEvent.ACKNOWLEDGED:
        fields["acknowledged"] = Acknowledgement("Łukasz Wójcik", T0 + timedelta(minutes=17))
    if kind is AlertEvent.ESCALATED:
        fields["previous_severity"] = 2
    if kind is AlertEvent.REMINDER:
        fields["escalation"] = Escalation(2, 3, ["Jana Nováková"])
    if kind is AlertEvent.BLIND:
        fields.update(severity=1, findings=BLIND_FINDINGS, channels=(), top_negative=())
    fields.update(changes)
    return Notice(**fields)


def everything(message: Notice) -> str:
    mail = email(message)
    return "\n".join([mail.subject, mail.body, sms(message)])


def is_plain(line: str) -> bool:
    """No control, format or separator characters but the joiners emoji sequences need."""
    return all(char in "\u200d\ufe0f" or char == " " or char.isprintable() for char in line)


def is_one_segment(text: str) -> bool:
    septets = gsm7_length(text)
    fits = septets <= 160 if septets is not None else ucs2_length(text) <= 70
    return fits and sms_segments(text) == 1


# --- the SMS -------------------------------------------------------------------------------


def test_a_critical_sms_has_the_essentials_in_one_gsm7_segment() -> None:
    # When a critical alert starts
    text = sms(notice())
    # Then one GSM-7 segment says what, how to ack and how to pause: the commands whole
    assert gsm7_length(text) is not None
    assert is_one_segment(text)
    assert text.splitlines() == [
        "CRITICAL Nordwind Air: mentions 11x usual",
        f"Ack: {ACK}",
        f"Pause posts: {PAUSE}",
    ]


@pytest.mark.parametrize("severity", [1, 2])
def test_only_critical_alerts_say_how_to_pause(severity: int) -> None:
    message = notice(severity=severity, pause_instructions=RUNBOOK)
    assert PAUSE not in everything(message)
    assert RUNBOOK not in everything(message)
    assert "Pause" not in everything(message)


def test_critical_email_names_the_pause_command_and_says_what_it_does() -> None:
    body = email(notice()).body
    assert (
        f"Pause all scheduled posts now:\n    {PAUSE}\n"
        "It stops every scheduled post on every scheduler stormwatch is connected to.\n"
        "Nothing is deleted: each post is saved first, and `stormwatch resume` restores them."
    ) in body
    # and the alert itself, the acknowledgement and the pause come before the numbers
    assert body.index("Acknowledge") < body.index("Pause all") < body.index("Numbers against")


@pytest.mark.parametrize("kind", [AlertEvent.STARTED, AlertEvent.ESCALATED, AlertEvent.REMINDER])
def test_the_teams_pause_note_goes_into_the_email_beside_the_command(kind: AlertEvent) -> None:
    # Given a team with a note on pausing (the schedulers stormwatch does not reach)
    message = notice(kind, pause_instructions=RUNBOOK)
    # When a critical alert goes out
    text = sms(message)
    # Then the SMS stays one segment with both commands whole
    assert is_one_segment(text)
    assert f"Ack: {ACK}" in text.splitlines()
    assert f"Pause posts: {PAUSE}" in text.splitlines()
    # And the email carries the command and, after it, the team's note whole
    body = email(message).body
    assert f"    {PAUSE}\n" in body
    assert f"Your team's note: {RUNBOOK}" in body
    assert body.index(PAUSE) < body.index(RUNBOOK)


@pytest.mark.parametrize("kind", [AlertEvent.STARTED, AlertEvent.ESCALATED, AlertEvent.REMINDER])
def test_a_long_alert_id_shortens_the_rest_of_the_sms_never_a_command(kind: AlertEvent) -> None:
    # Given an alert of a brand with a long id (44 characters)
    alert = "nordwind-air-cargo-charter-20261122-0305"
    message = notice(
        kind,
        brand_id="nordwind-air-cargo-charter",
        alert_id=alert,
        ack_command=f"stormwatch ack {alert}",
        pause_command=f"stormwatch pause --alert {alert}",
    )
    # When it goes out by SMS
    text = sms(message)
    # Then both commands are there whole, on lines of their own, in one segment
    assert is_one_segment(text)
    assert f"stormwatch ack {alert}" in text.splitlines()[1]
    assert text.splitlines()[2].endswith(f"stormwatch pause --alert {alert}")


def test_sms_keeps_letters_gsm7_has() -> None:
    text = sms(notice(brand_name="Nordwind Äir"))
    assert "Nordwind Äir:" in text
    assert gsm7_length(text) is not None


def test_sms_transliterates_polish_rather_than_falling_to_ucs2() -> None:
    # Given a brand and an acknowledger with letters GSM-7 lacks
    message = notice(
        AlertEvent.ACKNOWLEDGED,
        brand_name="Łódź Airlines",
        acknowledged=Acknowledgement("Łukasz Wójcik", T0 + timedelta(minutes=17)),
    )
    text = sms(message)
    # Then the SMS stays GSM-7, with 160 septets of room
    assert gsm7_length(text) is not None
    assert "Lodz Airlines" in text
    assert "by Lukasz Wojcik at 04:22 CET" in text
    # while the email, which has no such limit, keeps the names as written
    assert "Łódź Airlines" in email(message).subject
    assert "Łukasz Wójcik" in email(message).body


def test_sms_keeps_a_cjk_brand_in_ucs2() -> None:
    # Given a brand name with no Latin transliteration
    text = sms(notice(brand_name="北風航空", severity=2))
    # Then the SMS keeps it as written, within 70 UCS-2 code units
    assert text.startswith("WARNING 北風航空: mentions 11x usual")
    assert gsm7_length(text) is None
    assert ucs2_length(text) <= 70


def test_a_critical_sms_keeps_its_commands_before_a_cjk_brand_name() -> None:
    # Given a critical alert of a brand with no Latin transliteration
    text = sms(notice(brand_name="北風航空"))
    # Then both commands fit whole in GSM-7, the brand named by its id
    assert gsm7_length(text) is not None
    assert text.splitlines() == [
        "CRITICAL nordwind-air: mentions 11x usual",
        f"Ack: {ACK}",
        f"Pause posts: {PAUSE}",
    ]


def test_sms_drops_emoji_from_a_brand_to_stay_in_gsm7() -> None:
    text = sms(notice(brand_name="Nordwind ✈️ Air"))
    assert text.startswith("CRITICAL Nordwind Air:")
    assert gsm7_length(text) is not None


def test_a_long_brand_is_cut_at_a_word_boundary_with_three_dots_in_gsm7() -> None:
    brand = "The Very Long International Nordwind Air Holding Company of Northern Europe"
    text = sms(notice(brand_name=brand))
    head = text.splitlines()[0]
    shown = head.removeprefix("CRITICAL ").split("...:")[0]
    assert "..." in head
    assert "…" not in text  # not GSM-7: it would turn the whole SMS into UCS-2
    assert brand.startswith(shown + " ")
    assert gsm7_length(text) is not None


def test_a_brand_that_is_one_long_word_gives_way_to_its_id() -> None:
    text = sms(notice(brand_name="Supercalifragilisticexpialidociousairlinesandtravelcompany"))
    assert text.startswith("CRITICAL nordwind-air: mentions 11x usual")


def test_a_reminder_sms_asks_for_the_ack_before_naming_who_is_paged() -> None:
    escalation = Escalation(2, 3, ["Jana Nováková", "Łukasz Wójcik"])
    text = sms(
        notice(AlertEvent.REMINDER, escalation=escalation, severity=2, findings=FINDINGS[:1])
    )
    lines = text.splitlines()
    assert lines[0] == "WARNING Nordwind Air: mentions 11x usual"
    assert lines[1] == "Not acked after 40 min, step 2"
    assert lines[2] == f"Ack: {ACK}"
    assert lines[3] == "Paging Jana Novakova, Lukasz Wojcik"


def test_an_escalated_sms_says_where_it_rose_from() -> None:
    text = sms(notice(AlertEvent.ESCALATED, severity=2, previous_severity=1))
    assert "Up from watch" in text
    # a critical one has the commands first: where it rose from is in the email
    critical = sms(notice(AlertEvent.ESCALATED))
    assert PAUSE in critical
    assert "Severity rose from warning to critical." in email(notice(AlertEvent.ESCALATED)).body


def test_a_blind_sms_is_addressed_to_ops() -> None:
    text = sms(notice(AlertEvent.BLIND))
    assert text.splitlines()[0] == "OPS Nordwind Air: monitoring blind on x since 04:00 CET"
    assert "Alerts for x unreliable until fixed" in text
    assert f"Ack: {ACK}" in text


# Words made of Polish, German, CJK, emoji and anything else printable, each wrapped in
# '#' marks, which our own text never uses: a word cut in the middle loses its last mark.
_SPICE = list("ąćęłńóśźżĄĆĘŁŃÓŚŹŻäöüßÄÖÜ€[]{}北風航空株式会社漢字日本語😀🚀✈👍🏽\u200d\ufe0f…“”")
_CHAR = st.one_of(
    st.sampled_from(_SPICE),
    st.characters(categories=["L", "M", "N", "P", "S"], exclude_characters="#"),
)
_WORD = st.text(_CHAR, min_size=1, max_size=12).map(lambda core: f"#{core}#")


def _phrase(max_words: int = 6) -> st.SearchStrategy[str]:
    return st.lists(_WORD, min_size=1, max_size=max_words).map(" ".join)


_ZONES = [
    "Europe/Berlin",
    "Europe/Warsaw",
    "America/New_York",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "UTC",
]
_NUMBERS = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def _findings(draw: st.DrawFn, text: st.SearchStrategy[str]) -> Finding:
    return Finding(
        rule=draw(st.sampled_from(Rule)),
        channel=draw(st.one_of(st.just("ALL"), text)),
        severity=draw(st.integers(1, 3)),
        observed=draw(_NUMBERS),
        expected=draw(st.none() | _NUMBERS),
        window_minutes=draw(st.integers(0, 100_000)),
        reason=draw(text),
    )


_PHRASE = _phrase()
# Ops' all-clear for a blind channel is the one event that has no notice.
_ANY_KIND = st.sampled_from([e for e in AlertEvent if e is not AlertEvent.BLIND_RESOLVED])


@st.composite
def notices(
    draw: st.DrawFn,
    text: st.SearchStrategy[str] = _PHRASE,
    kinds: st.SearchStrategy[AlertEvent] = _ANY_KIND,
) -> Notice:
    kind = draw(kinds)
    started = draw(st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC)))
    now = started + draw(st.timedeltas(timedelta(0), timedelta(days=10)))
    people = st.lists(text, max_size=4)
    return Notice(
        brand_name=draw(text),
        brand_id=draw(st.sampled_from(["nordwind-air", "x", "a-very-long-brand-id-" * 3])),
        alert_id=draw(text),
        kind=kind,
        severity=draw(st.integers(1, 3)),
        started_at=started,
        now=now,
        time_zone=draw(st.sampled_from(_ZONES)),
        findings=draw(st.lists(_findings(text), max_size=4)),
        channels=draw(st.lists(st.builds(ChannelCount, text, st.integers(0, 10**9)), max_size=6)),
        top_negative=draw(
            st.lists(
                st.builds(TopMention, text, text, text, text, st.integers(0, 10**9)),
                max_size=7,
            )
        ),
        ack_command=draw(st.one_of(st.just(ACK), text)),
        pause_command=draw(st.one_of(st.just(PAUSE), text)),
        pause_instructions=draw(st.one_of(st.just(RUNBOOK), text)),
        previous_severity=draw(st.none() | st.integers(1, 3)),
        escalation=draw(
            st.none()
            | st.builds(Escalation, st.integers(1, 9), st.none() | st.integers(1, 9), people)
        ),
        acknowledged=draw(
            st.builds(Acknowledgement, text, st.just(now))
            if kind is AlertEvent.ACKNOWLEDGED
            else st.none()
        ),
        resolution=draw(
            st.builds(
                Resolution,
                st.timedeltas(timedelta(0), timedelta(days=30)),
                st.just(started),
                st.integers(0, 10**9),
                st.builds(Totals, st.integers(0, 10**9), st.floats(0, 1)),
                st.builds(Totals, st.integers(0, 10**9), st.floats(0, 1)),
                st.none() | st.integers(1, 1440),
            )
            if kind is AlertEvent.RESOLVED
            else st.none()
        ),
    )


def _cut_words(text: str) -> list[str]:
    """Tokens that start one of the generated words but lost its closing mark."""
    cut = []
    for token in text.split():
        if "#" not in token:
            continue
        word = token.rstrip(":,.…")
        if not (word.startswith("#") and word.endswith("#") and len(word) >= 2):
            cut.append(token)
    return cut


@settings(max_examples=examples(300), deadline=None)
@given(notices())
def test_every_sms_is_one_segment_of_whole_words(message: Notice) -> None:
    # Given any notice, with names in any script, emoji included
    # When it becomes an SMS
    text = sms(message)
    # Then it is one segment, never cut mid-word, in lines with no control characters
    assert is_one_segment(text)
    assert _cut_words(text) == []
    assert text == text.strip()
    assert all(line and is_plain(line) for line in text.split("\n"))


@settings(max_examples=examples(300), deadline=None)
@given(notices(text=st.text()))
def test_every_subject_fits_sns_on_one_line(message: Notice) -> None:
    # Given any notice, names full of newlines and control characters included
    subject = email(message).subject
    # Then the subject is one printable line SNS accepts
    assert ucs2_length(subject) <= SUBJECT_LIMIT
    assert len(subject) <= 100
    assert is_plain(subject)
    assert subject.startswith("[")


@settings(max_examples=examples(200), deadline=None)
@given(notices())
def test_subjects_shorten_whole_words_only(message: Notice) -> None:
    assert _cut_words(email(message).subject) == []


@settings(max_examples=examples(200), deadline=None)
@given(notices(text=st.text()))
def test_email_bodies_are_plain_lines(message: Notice) -> None:
    body = email(message).body
    assert all(is_plain(line) for line in body.split("\n"))


# --- what each kind says -------------------------------------------------------------------


def test_the_email_starts_with_the_essentials() -> None:
    mail = email(notice())
    assert mail.subject == "[CRITICAL] Nordwind Air: mentions 11x usual, 78% negative"
    lines = mail.body.splitlines()
    assert lines[0] == "CRITICAL alert for Nordwind Air: mentions 11x usual, 78% negative."
    assert "Severity: critical (3 of 3)" in mail.body
    assert "Since:    Sun 22 Nov 2026, 04:05 CET (03:05 UTC), 40 min ago" in mail.body


def test_the_email_shows_numbers_channels_and_mentions_with_links() -> None:
    body = email(notice()).body
    assert "Volume, all channels: 1,240 mentions in 1 h, usually 112 (11x)" in body
    assert "Negative share, all channels: 78% negative in 30 min, alert at 60%" in body
    assert "Static threshold, x: 820 mentions in 15 min, threshold 200" in body
    # channels, busiest first
    assert body.index("  x ") < body.index("  facebook ") < body.index("  instagram ")
    assert "1. x, @jdoe, reach 12,400" in body
    assert '"Stuck at BER for 6 hours, no info"' in body
    assert "https://x.com/j/1" in body
    assert "https://fb.com/p/2" in body
    assert f"Acknowledge (stops the escalation):\n    {ACK}" in body


def test_at_most_five_top_mentions_are_shown() -> None:
    mentions = [TopMention("x", f"@u{i}", f"text {i}", f"https://x.com/s/{i}") for i in range(7)]
    body = email(notice(top_negative=mentions)).body
    assert [f"https://x.com/s/{i}" in body for i in range(7)] == [True] * 5 + [False] * 2


def test_a_watch_alert_stops_no_escalation() -> None:
    body = email(notice(severity=1, findings=FINDINGS[:1])).body
    assert "WATCH alert for Nordwind Air: mentions 11x usual." in body
    assert f"Acknowledge:\n    {ACK}" in body


def test_an_escalation_says_from_what_to_what() -> None:
    mail = email(notice(AlertEvent.ESCALATED))
    assert mail.subject.startswith("[CRITICAL] Nordwind Air: up from warning, mentions 11x")
    assert "Severity rose from warning to critical." in mail.body


def test_a_reminder_says_how_long_and_who_is_paged_now() -> None:
    mail = email(notice(AlertEvent.REMINDER))
    assert "not acknowledged after 40 min" in mail.subject
    assert "Still not acknowledged, 40 min after it started." in mail.body
    assert "Escalation step 2 of 3: now paging Jana Nováková." in mail.body


def test_an_acknowledgement_says_who_and_when_and_asks_nothing() -> None:
    mail = email(notice(AlertEvent.ACKNOWLEDGED))
    assert mail.subject == "[ACK] Nordwind Air: critical alert acknowledged by Łukasz Wójcik"
    assert "acknowledged by Łukasz Wójcik at 04:22 CET (17 min after it started)" in mail.body
    assert ACK not in mail.body
    # the alert is still critical: whoever acknowledged may need the pause
    assert PAUSE in mail.body


def test_resolved_says_back_to_normal_with_duration_peak_and_totals() -> None:
    # Given an alert that lasted 2 h 35 min
    mail = email(notice(AlertEvent.RESOLVED))
    text = sms(notice(AlertEvent.RESOLVED))
    # Then both say so, with the peak and the totals before and during
    assert mail.subject == "[RESOLVED] Nordwind Air: back to normal after 2 h 35 min, was critical"
    assert "Back to normal: Nordwind Air." in mail.body
    assert "Lasted: 2 h 35 min" in mail.body
    assert "To:     Sun 22 Nov 2026, 06:40 CET (05:40 UTC)" in mail.body
    assert "Peak: 1,240 mentions in the 5 min from Sun 22 Nov 2026, 04:35 CET" in mail.body
    assert "  mentions       1,020     8,400" in mail.body
    assert "  negative         12%       71%" in mail.body
    assert text.splitlines() == [
        "RESOLVED Nordwind Air: back to normal after 2 h 35 min",
        "Peak 1,240 mentions at 04:35 CET",
        "During 8,400 mentions, 71% negative; before 1,020, 12%",
    ]
    # and nothing asks for action any more
    assert ACK not in mail.body + text
    assert PAUSE not in mail.body + text


def test_blind_is_for_ops_says_which_channel_since_when_and_what_it_means() -> None:
    mail = email(notice(AlertEvent.BLIND))
    assert mail.subject == "[OPS] Nordwind Air: monitoring blind on x since 04:00 CET"
    assert mail.body.startswith("For ops: monitoring is blind on x for Nordwind Air.")
    assert "Alerts for x are unreliable until this is fixed" in mail.body
    # the poller's last success 45 min ago, before the alert was raised
    assert "Blind since: Sun 22 Nov 2026, 04:00 CET (03:00 UTC), 45 min ago" in mail.body
    assert "6 polls in a row failed, no successful poll for 45 min" in mail.body


# Outside text (a brand's name, a finding's reason) that says none of the words checked
# for, as the check reads it: anywhere in the lowercased text, '#' or not.
_ALARMING = ("crisis", "storm", "critical", "pause")
_CALM = _phrase(3).filter(lambda s: not any(word in s.lower() for word in _ALARMING))


@settings(max_examples=examples(200), deadline=None)
@given(notices(text=_CALM, kinds=st.just(AlertEvent.BLIND)))
def test_blind_never_sounds_like_a_crisis(message: Notice) -> None:
    # Given a blind-source notice of any severity, over any findings
    message = dataclasses.replace(message, brand_name="Nordwind Air", ack_command=ACK)
    # (the command's name, stormwatch, is not a storm)
    said = everything(message).lower().replace("stormwatch", "")
    # Then nothing in it reads like a storm or asks to pause posts
    for word in _ALARMING:
        assert word not in said.replace("#", " ")


# --- data stays data -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "mention",
    ["{brand}", "{{ x }}", "{0} %s %(brand)s ${brand} {brand_name!r:>{width}}", "{% raw %}"],
)
def test_template_syntax_in_a_mention_appears_verbatim(mention: str) -> None:
    message = notice(top_negative=[TopMention("x", "{author}", mention, "https://x.com/s/1")])
    body = email(message).body
    assert f'"{mention}"' in body
    assert "{author}" in body


def test_template_syntax_in_a_brand_name_appears_verbatim() -> None:
    message = notice(brand_name="{brand} {{ alert_id }}")
    assert "{brand} {{ alert_id }}" in everything(message)


@given(st.text(st.characters(exclude_categories=["Cc", "Cf", "Cs", "Co", "Cn"]), max_size=200))
def test_any_clean_mention_text_appears_verbatim(text: str) -> None:
    clean = clean_text(text)
    message = notice(top_negative=[TopMention("x", "a", clean, "https://x.com/s/1")])
    assert f'     "{clean}"\n' in email(message).body


def test_control_characters_and_newlines_are_cleaned_out_of_mentions() -> None:
    raw = "line one\nline two\r\n\x00\x1b[31mred\u202e reversed\ttab"
    body = email(notice(top_negative=[TopMention("x", "a\nb", raw, "https://x.com/1")])).body
    assert '"line one line two [31mred reversed tab"' in body
    assert "  1. x, a b\n" in body
    assert not {"\x00", "\x1b", "\u202e", "\r", "\t"} & set(body)


def test_a_long_mention_is_cut_at_a_word_boundary() -> None:
    # Given a mention of 60 words
    text = " ".join(f"word{i}" for i in range(60))
    # When it is excerpted
    shown = excerpt(text)
    # Then it is at most 200 characters, whole words and an ellipsis
    assert len(shown) <= 200
    assert shown.endswith("…")
    assert text.startswith(shown[:-1] + " ")


@given(
    st.text(max_size=400) | st.lists(st.text(min_size=1, max_size=12), max_size=60).map(" ".join)
)
def test_excerpts_are_short_clean_and_cut_between_words(text: str) -> None:
    # Given any text, often words with spaces between them
    # When it is excerpted
    shown = excerpt(text)
    # Then the excerpt is short and clean, the text itself when it fits
    clean = clean_text(text)
    assert len(shown) <= EXCERPT_CHARS
    assert is_plain(shown)
    if len(clean) <= EXCERPT_CHARS:
        assert shown == clean
        return
    # And otherwise its beginning, cut...
    kept = shown.removesuffix("…")
    assert clean.startswith(kept)
    rest = clean[len(kept) :]
    if " " in clean[EXCERPT_CHARS // 2 : EXCERPT_CHARS]:
        # ...at a space when the second half of the window has one (perhaps before
        # trailing punctuation)
        assert rest.lstrip(",;:-").startswith(" ")
    else:
        # ...or, with no space there (CJK, a long URL), between characters, never inside a
        # combining sequence
        assert not unicodedata.combining(rest[0])


# --- time -----------------------------------------------------------------------------------


def test_times_follow_the_configured_zone_across_the_autumn_change() -> None:
    # Given an alert that starts at 02:30 CEST, an hour before Berlin's clocks go back,
    # and resolves at 02:30 CET
    start = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    now = start + timedelta(hours=1)
    resolution = dataclasses.replace(RESOLUTION, duration=timedelta(hours=1), peak_at=start)
    started = notice(started_at=start, now=now)
    resolved = notice(AlertEvent.RESOLVED, started_at=start, now=now, resolution=resolution)
    # Then each time carries its own offset and the hour is an hour
    assert "Since:    Sun 25 Oct 2026, 02:30 CEST (00:30 UTC), 1 h ago" in email(started).body
    assert "Since 02:30 CEST" in sms(dataclasses.replace(started, severity=2))
    body = email(resolved).body
    assert "Lasted: 1 h\n" in body
    assert "From:   Sun 25 Oct 2026, 02:30 CEST (00:30 UTC)" in body
    assert "To:     Sun 25 Oct 2026, 02:30 CET (01:30 UTC)" in body


def test_times_follow_the_configured_zone_across_the_spring_change() -> None:
    # Given New York at 01:50 EST, ten minutes before the clocks jump to 03:00 EDT
    start = datetime(2026, 3, 8, 6, 50, tzinfo=UTC)
    acked = Acknowledgement("Sam", start + timedelta(minutes=20))
    message = notice(
        AlertEvent.ACKNOWLEDGED, started_at=start, now=acked.at, acknowledged=acked,
        time_zone="America/New_York",
    )  # fmt: skip
    assert "Since:        Sun 8 Mar 2026, 01:50 EST (06:50 UTC), 20 min ago" in email(message).body
    assert "by Sam at 03:10 EDT" in sms(message)


def test_the_weekday_is_shown_when_the_start_was_on_another_local_day() -> None:
    start = datetime(2026, 11, 21, 22, 50, tzinfo=UTC)  # Sat 23:50 in Berlin
    text = sms(notice(started_at=start, now=start + timedelta(minutes=30), severity=2))
    assert "Since Sat 23:50 CET" in text


def test_zones_without_an_abbreviation_show_the_offset() -> None:
    text = sms(notice(time_zone="America/Sao_Paulo", severity=2))
    assert "Since 00:05 UTC-03:00" in text


# --- notices that cannot be right ----------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"severity": 0},
        {"severity": 4},
        {"previous_severity": 5},
        {"started_at": datetime(2026, 11, 22, 3, 5)},  # naive
        {"now": datetime(2026, 11, 22, 3, 45)},
        {"time_zone": "Europe/Atlantis"},
        {"time_zone": "../etc/passwd"},
    ],
)
def test_a_notice_that_cannot_be_right_is_refused_when_made(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"severity|aware|time_zone"):
        notice(**changes)


@pytest.mark.parametrize("kind", [AlertEvent.RESOLVED, AlertEvent.ACKNOWLEDGED])
def test_a_notice_without_what_its_kind_needs_is_refused(kind: AlertEvent) -> None:
    # Given a started alert's notice turned into one that needs more
    with pytest.raises(ValueError, match="needs"):
        dataclasses.replace(notice(), kind=kind)


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({"observed": float("nan")}, "observed must be a finite number"),
        ({"expected": float("inf")}, "expected must be a finite number"),
        ({"window_minutes": -5}, "window_minutes must be >= 0"),
    ],
)
def test_a_notice_of_a_finding_that_cannot_be_shown_is_refused(
    changes: dict[str, Any], refused: str
) -> None:
    # Given a finding whose numbers no message can show
    finding = dataclasses.replace(FINDINGS[0], **changes)
    # Then a notice of it is refused when made, not rendered as "nan mentions"
    with pytest.raises(ValueError, match=refused):
        notice(findings=[finding])


def test_the_all_clear_of_a_blind_channel_has_no_notice() -> None:
    # Given ops' all-clear, which names a channel and no findings
    with pytest.raises(ValueError, match="BLIND_RESOLVED"):
        notice(AlertEvent.BLIND_RESOLVED)


def test_ops_hear_in_plain_words_that_a_blind_channel_is_read_again() -> None:
    # Given a channel whose name and reason carry outside text
    email = read_again_email("rss\x07", "rss is read again (blind since {since})")
    # Then the subject names it cleanly, and the reason is quoted as data
    assert email.subject == "[OPS] stormwatch: rss is read again"
    assert "alerts for rss are reliable again" in email.body
    assert "(blind since {since})" in email.body
    assert "\x07" not in email.subject + email.body


# --- the console's signed link --------------------------------------------------------------

LINK = "https://console.nordwind.example/l/01k7t0ps4go9z.Xc2vY0b1Qm"


@pytest.mark.parametrize("kind", [AlertEvent.STARTED, AlertEvent.ESCALATED, AlertEvent.REMINDER])
def test_an_alert_with_a_console_link_carries_it_whole_in_one_segment(kind: AlertEvent) -> None:
    # Given a critical alert whose stack has a console
    message = notice(kind, console_link=LINK)
    # When it goes out by SMS
    text = sms(message)
    # Then the link is there whole, on its own line, with what happened, in one segment
    assert is_one_segment(text)
    assert f"Open: {LINK}" in text.splitlines()
    assert text.startswith("CRITICAL Nordwind Air: mentions 11x usual")
    # ...and the pause command, a button behind the link, is left to the email
    assert "pause" not in text
    # ...and the email names it first among what to do
    body = email(message).body
    assert LINK in body
    assert body.index(LINK) < body.index(ACK)


@given(
    notices(),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz.-", min_size=1, max_size=60),
)
@settings(max_examples=150, deadline=None)
def test_every_sms_with_a_link_is_one_segment_and_the_link_whole_or_absent(
    message: Notice, host: str
) -> None:
    link = f"https://{host}/l/01k7t0ps4go9z.Xc2vY0b1Qm"
    text = sms(dataclasses.replace(message, console_link=link))
    assert is_one_segment(text)
    assert link in text or "/l/" not in text


def test_a_resolved_or_blind_notice_carries_no_link() -> None:
    for kind in (AlertEvent.RESOLVED, AlertEvent.BLIND):
        assert LINK not in sms(notice(kind, console_link=LINK))


REPORT = "https://console.nordwind.example/alerts/nordwind-air-20261212-0705/report"


def test_back_to_normal_email_links_the_crisis_report_and_names_its_command() -> None:
    # Given an alert that resolved, on a stack with a console
    message = notice(
        AlertEvent.RESOLVED,
        report_link=REPORT,
        report_command="stormwatch report nordwind-air-20261212-0705",
    )
    # When the "back to normal" email goes out
    body = email(message).body
    # Then it links the report's page and names the command, each on a line of its own
    lines = [line.strip() for line in body.splitlines()]
    assert REPORT in lines
    assert "stormwatch report nordwind-air-20261212-0705" in lines
    assert lines.index(REPORT) < lines.index("stormwatch report nordwind-air-20261212-0705")
    # ...and the SMS, one segment of its own, leaves both to the email
    assert REPORT not in sms(message)


@pytest.mark.parametrize("kind", [AlertEvent.STARTED, AlertEvent.ESCALATED, AlertEvent.REMINDER])
def test_only_the_back_to_normal_email_names_the_report(kind: AlertEvent) -> None:
    # Given an open alert whose notice knows the report's page
    message = notice(kind, report_link=REPORT, report_command="stormwatch report x")
    # When its email goes out, then the report is not offered yet
    assert REPORT not in email(message).body
