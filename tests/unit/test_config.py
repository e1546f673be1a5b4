"""The config document: a bad value is an error that names the key."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from local.localconfig import read_document
from stormwatch.config import load_config_json, parse_config
from stormwatch.errors import ConfigError
from stormwatch.warn.settings import DEFAULT_PAUSE_INSTRUCTIONS


@pytest.fixture
def document() -> dict[str, Any]:
    return read_document()


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
        (lambda d: d["alerts"].update(settle_minutes=0), "alerts.settle_minutes", "1 to 180"),
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


def test_without_pause_instructions_critical_alerts_still_say_where_to_pause(
    document: dict[str, Any],
) -> None:
    # Given a document that names no way to pause
    document["alerts"].pop("pause_instructions", None)
    # Then the default still tells people where to pause
    alerts = parse_config(document).alerts
    assert alerts is not None
    assert alerts.pause_instructions == DEFAULT_PAUSE_INSTRUCTIONS


def test_every_channel_disabled_is_refused(document: dict[str, Any]) -> None:
    # Given a document whose channels are all switched off
    for settings in document["channels"].values():
        settings["enabled"] = False
    # Then it is refused: such a deployment would listen to nothing
    assert _error(document).key == "channels"


def test_text_that_is_not_json_says_so() -> None:
    # Given an SSM value that is not JSON / Then the error says so instead of crashing
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config_json("brands: [nordwind]")


def test_a_document_round_trips_through_json(document: dict[str, Any]) -> None:
    # Given the document as stored in SSM (JSON) / Then it parses to the same config
    assert load_config_json(json.dumps(document)) == parse_config(document)
