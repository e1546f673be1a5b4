"""The poll and evaluate handlers on the local stack: bad input is a clear error, never a
silent skip, and no event time moves the evaluator's state to a time that has not come."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from local.stack import LocalStack
from ops.cli import config_key
from stormwatch.errors import ConfigError
from stormwatch.model import BucketCounts, BucketKey, bucket_start
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.table import Table
from stormwatch.runtime import clear_caches

POLL = "PollMentionsFunction"


def test_an_event_without_a_known_channel_is_refused(stack: LocalStack) -> None:
    with pytest.raises(ConfigError, match=r"event\.channel: must be one of x, mastodon"):
        stack.invoke(POLL, {"channel": "myspace"})
    with pytest.raises(ConfigError, match=r"event\.channel"):
        stack.invoke(POLL, {})


def test_a_poll_reads_the_channel_and_reports_what_it_did(stack: LocalStack) -> None:
    # Given the scenario's first hours / When X is polled
    with time_machine.travel(stack.scenario.start + timedelta(hours=3), tick=False):
        summary = stack.invoke(POLL, {"channel": "x"})
    # Then every source finished and what was read is accounted for
    assert summary["channel"] == "x"
    assert set(summary["sources"].values()) == {"done"}
    assert summary["read"] == summary["stored"] + summary["unmatched"] + summary["duplicates"]
    assert summary["errors"] == []


def test_missing_credentials_fail_the_channel_with_the_key_named(stack: LocalStack) -> None:
    # Given a secret without Bluesky's credentials
    secret = stack.outputs["ChannelSecretName"]
    client = stack.client("secretsmanager")
    saved = client.get_secret_value(SecretId=secret)["SecretString"]
    document = json.loads(saved)
    del document["bluesky"]
    client.put_secret_value(SecretId=secret, SecretString=json.dumps(document))
    clear_caches()
    try:
        # When Bluesky is polled
        with time_machine.travel(stack.scenario.start + timedelta(hours=3), tick=False):
            summary = stack.invoke(POLL, {"channel": "bluesky"})
        # Then each source failed and says which secret key is missing; nothing crashed
        assert set(summary["sources"].values()) == {"failed"}
        assert len(summary["errors"]) == len(summary["sources"])
        assert all("bluesky: no credentials object under this key" in e for e in summary["errors"])
    finally:
        client.put_secret_value(SecretId=secret, SecretString=saved)
        clear_caches()


def test_a_missing_config_document_says_where_it_should_be(stack: LocalStack) -> None:
    ssm = stack.client("ssm")
    name = stack.config_parameter()
    saved = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    ssm.delete_parameter(Name=name)
    clear_caches()
    try:
        with pytest.raises(ConfigError, match=f"{name}: SSM parameter not found"):
            stack.invoke(POLL, {"channel": "x"})
    finally:
        ssm.put_parameter(
            Name=name,
            Value=saved,
            Type="SecureString",
            KeyId=config_key(name),
            Tier="Advanced",
            Overwrite=True,
        )
        clear_caches()


def test_an_invalid_config_document_names_the_key(stack: LocalStack) -> None:
    ssm = stack.client("ssm")
    name = stack.config_parameter()
    saved = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    broken = json.loads(saved)
    broken["channels"]["x"]["page_size"] = 1000
    key = config_key(name)
    ssm.put_parameter(
        Name=name, Value=json.dumps(broken), Type="SecureString", KeyId=key, Overwrite=True
    )
    clear_caches()
    try:
        with pytest.raises(ConfigError, match=r"channels\.x\.page_size: must be between 1 and 100"):
            stack.invoke(POLL, {"channel": "x"})
    finally:
        ssm.put_parameter(Name=name, Value=saved, Type="SecureString", KeyId=key, Overwrite=True)
        clear_caches()


# --- the evaluator's event time ------------------------------------------------------------

EVALUATE = "EvaluateAlertsFunction"
STORM_BRAND = "nordwind-air"


def _storm_until(stack: LocalStack, now: datetime) -> None:
    """150 mentions per 5 minutes on X, 80 % negative, for the hour before `now`."""
    first = bucket_start(now, 5) - timedelta(hours=1)
    store = BucketStore(Table(stack.client("dynamodb"), stack.outputs["TableName"]))
    store.import_history(
        {
            BucketKey(STORM_BRAND, "x", first + timedelta(minutes=5 * i)): BucketCounts(
                total=150, negative=120, neutral=30
            )
            for i in range(13)
        }
    )


# A refused run emits no metric (its error is the function's `AWS/Lambda` `Errors`).
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_an_evaluation_far_in_the_future_is_refused_and_a_later_storm_still_alerts(
    stack: LocalStack,
) -> None:
    stack.empty_tables()
    now = datetime.now(UTC)
    # Given a hand-written event a day ahead of the clock
    ahead = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # When the evaluator is invoked with it
    # Then it refuses in one line that says why, and nothing is stored
    with pytest.raises(ConfigError, match=r"event\.scheduled_time: .* ahead of the clock"):
        stack.invoke(EVALUATE, {"scheduled_time": ahead})
    # And when a storm comes afterwards, the evaluation at the clock alerts on it
    _storm_until(stack, now)
    summary = stack.invoke(EVALUATE, {"scheduled_time": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
    outcome = summary["brands"][STORM_BRAND]
    assert outcome["severity"] >= 2, outcome
    assert outcome["findings"]


def test_a_replayed_old_event_is_evaluated_at_the_clock(stack: LocalStack) -> None:
    stack.empty_tables()
    now = datetime.now(UTC)
    # Given a storm now, and an event of two days ago replayed from the dead-letter queue
    _storm_until(stack, now)
    old = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # When the evaluator is invoked with it
    summary = stack.invoke(EVALUATE, {"scheduled_time": old})
    # Then it judged the present minute, not the old one (nor went back to it)
    judged = datetime.fromisoformat(summary["at"])
    assert now - timedelta(seconds=1) <= judged <= datetime.now(UTC)
    assert summary["brands"][STORM_BRAND]["severity"] >= 2
