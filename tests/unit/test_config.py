"""The config document: a bad value is an error that names the key."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from local.localconfig import read_document
from stormwatch.config import load_config_json, parse_config
from stormwatch.errors import ConfigError


@pytest.fixture
def document() -> dict[str, Any]:
    return read_document()


def put(document: Any, key: str, value: object) -> None:
    """Set `key` ('alerts.static[0].brand') in `document`."""
    *parents, last = re.findall(r"[^.\[\]]+", key)
    target = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value


def _error(document: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    return caught.value


def test_the_example_document_is_valid(document: dict[str, Any]) -> None:
    # Given the example shipped in the repo / When it is parsed
    config = parse_config(document)
    # Then every channel it names is configured and enabled, with the defaults filled in
    assert config.enabled_channels == (
        "x",
        "mastodon",
        "bluesky",
        "facebook",
        "instagram",
        "linkedin",
        "reddit",
        "rss",
    )
    assert config.bucket_minutes == 5
    assert config.channel("facebook").text("page_id") == "100012345678901"
    assert config.channel("x").page_size == 100
    assert [brand.id for brand in config.brands] == ["nordwind-air", "kolibri-pay"]
    assert config.brands[0].hashtags == ("NordwindAir",)


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (lambda d: d.update(bucket_minutes=7), "bucket_minutes", "must divide 60"),
        (lambda d: d.update(bucket_minutes="5"), "bucket_minutes", "must be an integer"),
        (lambda d: d["brands"][0].pop("keywords"), "brands[0].keywords", "required"),
        (lambda d: d["brands"][1].update(id="Kolibri Pay"), "brands[1].id", "lowercase"),
        (lambda d: d["brands"][1].update(id="nordwind-air"), "brands[1].id", "duplicate"),
        (lambda d: d["brands"][0]["keywords"].append(""), "brands[0].keywords[3]", "non-empty"),
        (
            lambda d: d["channels"]["facebook"].pop("page_id"),
            "channels.facebook.page_id",
            "required",
        ),
        (
            lambda d: d["channels"]["facebook"].update(page_id="acme"),
            "channels.facebook.page_id",
            "numeric id",
        ),
        (
            lambda d: d["channels"]["x"].update(page_size=500),
            "channels.x.page_size",
            "between 1 and 100",
        ),
        (
            lambda d: d["channels"]["mastodon"].pop("base_url"),
            "channels.mastodon.base_url",
            "required",
        ),
        (
            lambda d: d["channels"]["mastodon"].update(base_url="mastodon.social"),
            "channels.mastodon.base_url",
            "http(s) URL",
        ),
        (
            lambda d: d["channels"]["rss"]["feeds"][0].pop("url"),
            "channels.rss.feeds[0].url",
            "required",
        ),
        (lambda d: d["channels"].update(myspace={}), "channels.myspace", "unknown key"),
        (lambda d: d["channels"]["x"].update(pagesize=10), "channels.x.pagesize", "unknown key"),
        (
            lambda d: d["sentiment"].update(comprehend_languages=["pl"]),
            "sentiment.comprehend_languages[0]",
            "does not analyse 'pl'",
        ),
        (lambda d: d["sentiment"].update(analyzer="magic"), "sentiment.analyzer", "one of"),
        (lambda d: d.update(brands=[]), "brands", "must not be empty"),
        (lambda d: d.update(alerts=[1]), "alerts", "must be a mapping"),
        (
            lambda d: d["alerts"].update(pause_instructions=" "),
            "alerts.pause_instructions",
            "non-empty text",
        ),
        (
            lambda d: d["alerts"].update(pause_instructions="step 1\nstep 2"),
            "alerts.pause_instructions",
            "one line",
        ),
        (
            lambda d: d["alerts"].update(pause_instructions="x" * 101),
            "alerts.pause_instructions",
            "at most 100 characters, got 101",
        ),
        (
            lambda d: d["alerts"].update(settle_minutes=0),
            "alerts.settle_minutes",
            "between 1 and 180",
        ),
        (lambda d: d["alerts"].update(settle=5), "alerts.settle", "unknown key"),
    ],
)
def test_a_bad_value_is_an_error_naming_its_key(
    document: dict[str, Any], mutate: Any, key: str, problem: str
) -> None:
    # Given the example with one thing wrong
    broken = copy.deepcopy(document)
    mutate(broken)
    # When it is parsed / Then the error names the key and says what is wrong
    error = _error(broken)
    assert error.key == key
    assert problem in error.problem


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        # YAML slips that a lax reader would turn into something else
        ("bucket_minutes", 5.0, "must be an integer, got float"),
        ("mention_ttl_days", True, "must be an integer, got bool"),
        ("channels.x.enabled", "yes", "must be true or false, got 'yes'"),
        ("alerts.velocity.growth", "4", "must be a number, got '4'"),
        ("alerts.volume.min_count", "10", "must be an integer, got '10'"),
        ("version", 2, "reads version 1 documents, got 2"),
        ("time_zone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        # rules within a section
        ("alerts.negative_share.level", 1.5, "must be at most 1.0, got 1.5"),
        ("alerts.velocity.growth", 1.0, "must be above 1.0, got 1.0"),
        ("alerts.negative_share.severity", 4, "must be 1 (watch), 2 (warning) or 3"),
        ("alerts.volume.watch_return_days", 100, "need 1 < watch <= warning <= critical"),
        ("alerts.volume.windows_minutes", [15, 62], "62 is not a multiple of bucket_minutes 5"),
        ("alerts.escalation.steps[1].after_minutes", 15, "steps must come later and later"),
        ("alerts.escalation.steps[0].notify", "boss", "must be one of on_call, escalation, bus"),
        ("alerts.escalation.repeat", 11, "must be between 1 and 10, got 11"),
        # rules across sections
        ("alerts.static[0].brand", "nobody", "no brand 'nobody' in brands"),
        ("alerts.static[0].channel", "myspace", "must be ALL or a configured channel"),
        ("alerts.static[0].window_minutes", 7, "must be a multiple of bucket_minutes (5)"),
        ("alerts.velocity.window_minutes", 12, "must be a multiple of bucket_minutes (5)"),
        ("alerts.silence.quiet_minutes", 2, "must be at least 5, got 2"),
        ("roster.escalation[0]", "nobody", "no contact 'nobody' in contacts"),
        ("roster.rotations[0].order[0]", "nobody", "no contact 'nobody' in contacts"),
    ],
)
def test_each_rule_names_its_key(
    document: dict[str, Any], key: str, value: object, problem: str
) -> None:
    # Given the example with one value that breaks a rule
    put(document, key, value)
    # When it is parsed / Then the error names that key and the rule
    error = _error(document)
    assert error.key == key
    assert problem in error.problem


def test_bucket_size_and_time_zone_are_written_once_and_reach_the_detector(
    document: dict[str, Any],
) -> None:
    # Given 15-minute buckets at the top, in Berlin
    document.update(bucket_minutes=15, time_zone="Europe/Berlin")
    # When parsed / Then the volume detector judges exactly those buckets, in that zone
    volume = parse_config(document).alerts.volume
    assert (volume.bucket_minutes, volume.timezone) == (15, "Europe/Berlin")
    # And windows off that grid are named where they are written
    document["bucket_minutes"] = 10
    error = _error(document)
    assert (error.key, error.problem) == (
        "alerts.volume.windows_minutes",
        "15 is not a multiple of bucket_minutes 10",
    )


def test_a_repeated_window_is_named_where_it_repeats(document: dict[str, Any]) -> None:
    document["alerts"]["volume"]["windows_minutes"] = [15, 60, 15]
    error = _error(document)
    assert (error.key, error.problem) == ("alerts.volume.windows_minutes[2]", "15 is listed twice")


@pytest.mark.parametrize("key", ["bucket_minutes", "timezone"])
def test_the_detector_bucket_keys_cannot_be_set_twice(document: dict[str, Any], key: str) -> None:
    # Given alerts.volume repeating what the top level says
    document["alerts"]["volume"][key] = 5 if key == "bucket_minutes" else "UTC"
    # Then it is refused as an unknown key, pointing at the top-level one
    error = _error(document)
    assert error.key == f"alerts.volume.{key}"
    assert error.problem.startswith("unknown key (typo?)")


def test_a_key_written_without_a_value_takes_its_default(document: dict[str, Any]) -> None:
    # Given YAML keys left empty (`alerts:`, `covers:`), which YAML reads as null
    document["alerts"] = None
    document["roster"]["rotations"][0]["covers"] = None
    document["channels"]["x"]["page_size"] = None
    # When parsed / Then each counts as not written
    config = parse_config(document)
    assert config.alerts.volume.timezone == "Europe/Berlin"
    assert config.alerts.pause_instructions is None
    assert config.channel("x").page_size == 100
    assert config.roster is not None
    assert config.roster.rotations[0].covers == ()
    # A channel listed without a value is configured with its defaults, as with {}
    document["channels"]["bluesky"] = None
    assert parse_config(document).channel("bluesky").base_url == "https://bsky.social"
    # Even a key that must not be written: empty, it is not there
    document["alerts"] = {"volume": {"bucket_minutes": None}}
    assert parse_config(document).alerts.volume.bucket_minutes == 5


def test_a_roster_gap_is_named_for_the_whole_document(document: dict[str, Any]) -> None:
    # Given the example's roster without its rotation: nights are nobody's
    del document["roster"]["rotations"]
    # When parsed on a Friday afternoon in Berlin
    with pytest.raises(ConfigError) as caught:
        parse_config(document, now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    # Then the first night is the gap, under the roster's key
    assert caught.value.key == "roster"
    assert caught.value.problem == (
        "nobody is on call Fri 20 Nov 18:00 - Mon 23 Nov 09:00 (Europe/Berlin)"
    )


def test_the_alert_keys_ops_set_beside_the_rules_are_read(document: dict[str, Any]) -> None:
    # Given the example with its own pause instructions and a shorter settle time
    document["alerts"].update(
        pause_instructions="  runbook wiki.example/pause  ", settle_minutes=10
    )
    # When it is parsed
    alerts = parse_config(document).alerts
    # Then both are taken (the instructions trimmed)
    assert alerts is not None
    assert alerts.pause_instructions == "runbook wiki.example/pause"
    assert alerts.settle_minutes == 10


def test_velocity_can_be_kept_on_once_the_baseline_is_trusted(document: dict[str, Any]) -> None:
    # Given the documented switch (the old reader refused `true` as "not a number")
    document["alerts"]["velocity"]["once_baseline_trusted"] = True
    # When parsed / Then it is on
    assert parse_config(document).alerts.velocity.once_baseline_trusted is True


def test_without_pause_instructions_there_is_no_note_beside_the_pause_command(
    document: dict[str, Any],
) -> None:
    # Given a document without a note of its own on pausing
    document["alerts"].pop("pause_instructions", None)
    # Then there is none (critical alerts name `stormwatch pause` all the same)
    alerts = parse_config(document).alerts
    assert alerts is not None
    assert alerts.pause_instructions is None


def test_every_channel_disabled_is_refused(document: dict[str, Any]) -> None:
    # Given a document whose channels are all switched off
    for settings in document["channels"].values():
        settings["enabled"] = False
    # Then it is refused: such a deployment would listen to nothing
    assert _error(document).key == "channels"


def test_a_document_that_is_not_a_mapping_says_so() -> None:
    # Given a YAML file holding a list / Then the error is about the document itself
    with pytest.raises(ConfigError) as caught:
        parse_config(["brands"])
    assert caught.value.key == "<document>"
    assert caught.value.problem == "must be a mapping, got a list"


def test_text_that_is_not_json_says_so() -> None:
    # Given an SSM value that is not JSON / Then the error says so instead of crashing
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config_json("brands: [nordwind]")


def test_a_document_round_trips_through_json(document: dict[str, Any]) -> None:
    # Given the document as stored in SSM (JSON) / Then it parses to the same config
    assert load_config_json(json.dumps(document)) == parse_config(document)


@pytest.mark.parametrize(
    ("key", "url", "problem"),
    [
        # A channel's token must only ever travel to that channel, encrypted
        ("channels.x.base_url", "https://collector.example", "must be on api.x.com"),
        ("channels.x.base_url", "http://api.x.com", "must be an https:// URL"),
        ("channels.reddit.auth_url", "https://reddit.evil.example", "must be on www.reddit.com"),
        ("channels.mastodon.base_url", "http://mastodon.example", "must be an https:// URL"),
        ("channels.mastodon.base_url", "https://10.0.0.7", "a private or local address"),
        # A feed may be any public host, never one inside the network the poller runs in
        ("channels.rss.feeds[0].url", "https://169.254.169.254/latest", "a private or local"),
        ("channels.rss.feeds[0].url", "https://127.0.0.1:8080/feed", "a private or local"),
        ("channels.rss.feeds[0].url", "https://[::1]/feed", "a private or local"),
        ("channels.rss.feeds[0].url", "https://localhost/feed", "a private or local"),
        ("channels.rss.feeds[0].url", "http://blogs.example/feed", "must be an https:// URL"),
    ],
)
def test_channel_urls_are_https_on_the_channels_own_hosts(
    document: dict[str, Any], key: str, url: str, problem: str
) -> None:
    # Given a document whose URL points elsewhere / When it is read
    put(document, key, url)
    error = _error(document)
    # Then it is refused, naming the key
    assert error.key == key
    assert problem in error.problem


def test_insecure_channel_urls_only_with_the_local_testing_flag(document: dict[str, Any]) -> None:
    # Given the fake channels on loopback, over http
    put(document, "channels.x.base_url", "http://127.0.0.1:9000/x")
    put(document, "channels.rss.feeds[0].url", "http://127.0.0.1:9000/rss/feed")
    with pytest.raises(ConfigError):
        parse_config(document)
    # When the local stack's own flag is set / Then they are accepted
    document["allow_insecure_channel_urls_for_local_testing"] = True
    config = parse_config(document)
    assert config.channel("x").base_url == "http://127.0.0.1:9000/x"


def test_the_local_stacks_config_and_only_it_sets_the_flag() -> None:
    from local.localconfig import localize

    assert "allow_insecure_channel_urls_for_local_testing" not in read_document()
    local = localize(read_document(), lambda channel: f"http://127.0.0.1:9000/{channel}")
    assert local["allow_insecure_channel_urls_for_local_testing"] is True
    parse_config(local)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("brands[0].name", "N" * 201, "must be at most 200 characters"),
        ("brands[0].keywords[0]", "k" * 201, "must be at most 200 characters"),
        ("brands[0].exclude[0]", "e" * 201, "must be at most 200 characters"),
        ("channels.rss.feeds[0].url", "https://blogs.example/" + "p" * 2048, "at most 2048"),
    ],
)
def test_names_keywords_and_urls_have_a_length_limit(
    document: dict[str, Any], key: str, value: str, problem: str
) -> None:
    # Given a brand name, keyword or URL far longer than any real one
    put(document, key, value)
    # When it is read / Then it is refused, naming the key
    error = _error(document)
    assert error.key == key
    assert problem in error.problem


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("bucket_minutes", 10**200),
        ("sentiment.comprehend_languages", ["x" * 5000]),
        ("brands[0].id", "Q" * 5000),
    ],
)
def test_an_error_quotes_at_most_80_characters_of_a_bad_value(
    document: dict[str, Any], key: str, value: object
) -> None:
    # Given a huge bad value / When the document is read
    put(document, key, value)
    error = _error(document)
    # Then the message names the key and quotes only the start of the value
    assert error.key.startswith(key.split("[", maxsplit=1)[0])
    for character in "0xQ":
        assert character * 81 not in str(error)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # a 5,000-digit integer (Python refuses to convert more than 4,300 digits)
        ('{"bucket_minutes": ' + "9" * 5000 + "}", "a number of 5000 digits"),
        # a 3,000-deep nesting, and a far deeper one
        ('{"brands": ' + "[" * 3000 + "]" * 3000 + "}", "nested deeper than"),
        ('{"brands": ' + "[" * 200_000 + "]" * 200_000 + "}", "nested deeper than"),
    ],
)
def test_a_hostile_json_document_is_a_one_line_error_within_a_second(
    text: str, problem: str
) -> None:
    # Given a document the functions would read from SSM / When it is read
    import time

    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load_config_json(text)
    # Then it is one line naming what is wrong, quickly
    assert time.perf_counter() - started < 1.0
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)
    assert len(str(caught.value)) < 200


def test_mentions_are_kept_longer_than_the_longest_look_back(document: dict[str, Any]) -> None:
    # Given mentions kept 7 days while a poll may still read mentions 8 days old
    document["mention_ttl_days"] = 7
    document["max_mention_age_hours"] = 8 * 24
    # When the document is read / Then it is refused: a mention read again after its
    # record expired would be counted twice
    error = _error(document)
    assert error.key == "mention_ttl_days"
    assert "counted twice" in error.problem
    # ...and with the look-back within the kept days it is fine
    document["max_mention_age_hours"] = 6 * 24
    parse_config(document)
