"""The CloudWatch dashboard and the alarms: everything they watch is a metric the handlers
really emit (read from the EMF lines they print on the local stack), and every alarm
reaches the ops topic, both ways."""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from local.provision import Resolver, plan, translate
from local.stack import DEFAULT_PARAMETERS, TEMPLATE, LocalStack
from stormwatch.errors import ConfigError
from stormwatch.model import CHANNELS


@functools.cache
def template_functions() -> frozenset[str]:
    """Every function of the template: a new one is on the dashboard and alarmed, or a
    test says so."""
    translated, _ = translate(TEMPLATE, DEFAULT_PARAMETERS)
    return frozenset(
        name
        for name, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    )


EmittedMetric = tuple[str, str, frozenset[str]]
"""Namespace, metric name and the names of its dimensions."""


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    translated, _ = translate(TEMPLATE, DEFAULT_PARAMETERS)
    return translated


@pytest.fixture(scope="module")
def run(stack: LocalStack) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The EMF documents printed by a poll of X that stores mentions, a poll that cannot
    start and an evaluation; and the good poll's summary."""
    printed = io.StringIO()
    stack.log = printed
    try:
        # In the storm: mentions stored, many of them negative.
        moment = stack.scenario.storm_start + timedelta(hours=2)
        with time_machine.travel(moment, tick=False):
            summary = stack.invoke("PollMentionsFunction", {"channel": "x"})
            with pytest.raises(ConfigError):
                stack.invoke("PollMentionsFunction", {"channel": "myspace"})
            stack.invoke("EvaluateAlertsFunction", {"scheduled_time": f"{moment:%Y-%m-%dT%H:%MZ}"})
    finally:
        stack.log = None
    return list(_emf_documents(printed.getvalue())), summary


@pytest.fixture(scope="module")
def emitted(
    run: tuple[list[dict[str, Any]], dict[str, Any]],
) -> tuple[set[EmittedMetric], dict[str, set[str]]]:
    """Each metric emitted with its dimensions' names, and every value each dimension took."""
    metrics: set[EmittedMetric] = set()
    values: dict[str, set[str]] = {}
    for document in run[0]:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    metrics.add((directive["Namespace"], metric["Name"], frozenset(dimension_set)))
                for name in dimension_set:
                    values.setdefault(name, set()).add(str(document[name]))
    assert metrics, "the handlers printed no EMF metrics"
    return metrics, values


def _emf_documents(printed: str) -> Iterator[dict[str, Any]]:
    for line in printed.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if "CloudWatchMetrics" in document.get("_aws", {}):
                yield document


def _dashboard_body(stack: LocalStack) -> dict[str, Any]:
    assert stack.deployment is not None
    name = stack.deployment.resources["Dashboard"].ref
    body: dict[str, Any] = json.loads(
        stack.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"]
    )
    return body


def _metric_rows(body: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """Each metric row of every metric widget (expressions left out), with its widget's title."""
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        for row in widget["properties"]["metrics"]:
            if isinstance(row[0], str):
                yield widget["properties"]["title"], row


def _row_metric(row: list[Any]) -> tuple[str, str, dict[str, str]]:
    namespace, name, *rest = row
    pairs = [item for item in rest if isinstance(item, str)]
    return namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))


# --- the dashboard -------------------------------------------------------------------------


def test_the_dashboard_is_created_from_the_template_for_the_stacks_region_and_functions(
    stack: LocalStack,
) -> None:
    # Given the local stack deployed from template.yaml / When its dashboard is read back
    assert stack.deployment is not None
    body = _dashboard_body(stack)
    # Then it is JSON with every ${...} substituted, in the stack's region, naming the
    # stack's own functions and alarms
    text = json.dumps(body)
    assert "${" not in text
    regions = {w["properties"]["region"] for w in body["widgets"] if w["type"] == "metric"}
    assert regions == {"eu-central-1"}
    function_names = {stack.deployment.function_name(function) for function in template_functions()}
    lambda_rows = [_row_metric(row) for _, row in _metric_rows(body) if row[0] == "AWS/Lambda"]
    assert {dims["FunctionName"] for _, _, dims in lambda_rows} == function_names
    alarm_names = {
        alarm["AlarmName"]
        for alarm in stack.client("cloudwatch").describe_alarms()["MetricAlarms"]
        if alarm["AlarmName"].startswith("stormwatch-dev-")
    }
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    shown = {arn.rsplit(":", 1)[1] for arn in alarm_widget["properties"]["alarms"]}
    assert shown == alarm_names
    assert stack.outputs["DashboardUrl"].endswith("#dashboards:name=stormwatch-dev")


def test_every_metric_on_the_dashboard_is_one_the_handlers_emit(
    stack: LocalStack, emitted: tuple[set[EmittedMetric], dict[str, set[str]]]
) -> None:
    metrics, values = emitted
    body = _dashboard_body(stack)
    titles = set()
    for title, row in _metric_rows(body):
        namespace, name, dimensions = _row_metric(row)
        if namespace == "AWS/Lambda":
            continue
        titles.add(title)
        # Then the name with exactly these dimensions was emitted, and each value is one a
        # handler gives it (every channel, not only the one polled here)
        assert (namespace, name, frozenset(dimensions)) in metrics, f"{title}: {row}"
        for key, value in dimensions.items():
            allowed = set(CHANNELS) if key == "channel" else values[key]
            assert value in allowed, f"{title}: {key}={value}"
    assert len(titles) == 5


def test_the_dashboard_shows_each_quantity_the_issue_asks_for(stack: LocalStack) -> None:
    body = _dashboard_body(stack)
    shown: dict[str, set[str]] = {}
    for title, row in _metric_rows(body):
        shown.setdefault(title, set()).add(row[1])
    assert shown["Mentions stored per channel"] == {"MentionsStored"}
    assert shown["Negative share per channel (%)"] == {"MentionsStored", "NegativeMentionsStored"}
    assert shown["Alerts and notifications"] == {
        "AlertsDispatched",
        "NotificationsSent",
        "NotificationFailures",
        "NotificationsGivenUp",
    }
    assert shown["Poll errors"] == {"PollErrors", "PollInvocationErrors"}
    assert shown["Poll lag: age of the newest mention read (s)"] == {"PollLag"}
    for title in ("Mentions stored per channel", "Poll errors"):
        channels = {
            _row_metric(row)[2].get("channel") for t, row in _metric_rows(body) if t == title
        }
        assert set(CHANNELS) <= channels


def test_the_negative_share_is_negative_over_stored_per_channel_and_overall(
    stack: LocalStack,
) -> None:
    body = _dashboard_body(stack)
    (widget,) = [
        w for w in body["widgets"] if w["properties"].get("title", "").startswith("Negative share")
    ]
    rows = widget["properties"]["metrics"]
    ids = {row[-1]["id"]: row for row in rows if isinstance(row[0], str)}
    expressions = {row[0]["id"]: row[0]["expression"] for row in rows if isinstance(row[0], dict)}
    for channel in CHANNELS:
        assert expressions[f"share_{channel}"] == f"100 * negative_{channel} / stored_{channel}"
        assert _row_metric(ids[f"negative_{channel}"])[1] == "NegativeMentionsStored"
        assert _row_metric(ids[f"stored_{channel}"])[1] == "MentionsStored"
        assert _row_metric(ids[f"stored_{channel}"])[2]["channel"] == channel
    # METRICS("negative") picks the ids containing the word: none of the stored ones
    assert not [name for name in ids if "negative" in name and not name.startswith("negative_")]
    assert expressions["share_all"] == '100 * SUM(METRICS("negative")) / SUM(METRICS("stored"))'


def test_a_poll_emits_the_negative_mentions_it_stored(
    run: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    # Given a poll of X in the storm
    documents, summary = run
    (document,) = [d for d in documents if "MentionsStored" in d]
    # Then the negatives it stored are counted, no more than it stored
    stored, negative = (
        _value(document["MentionsStored"]),
        _value(document["NegativeMentionsStored"]),
    )
    assert stored == summary["stored"] > 0
    assert 0 < negative <= stored
    assert document["channel"] == "x"


def _value(emitted: float | list[float]) -> float:
    return sum(emitted) if isinstance(emitted, list) else emitted


# --- the alarms ------------------------------------------------------------------------------


def _alarms(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in cfn["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_every_alarm_tells_the_ops_topic_when_it_fires_and_when_it_is_over(
    cfn: dict[str, Any],
) -> None:
    for name, alarm in _alarms(cfn).items():
        assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}], name
        assert alarm["OKActions"] == [{"Ref": "OpsTopic"}], name


def test_there_is_an_alarm_on_each_functions_errors_a_silent_poller_and_failed_pages(
    cfn: dict[str, Any],
) -> None:
    alarms = _alarms(cfn)
    errors = {
        alarm["Dimensions"][0]["Value"]["Ref"]
        for alarm in alarms.values()
        if alarm.get("Namespace") == "AWS/Lambda" and alarm.get("MetricName") == "Errors"
    }
    assert errors == template_functions()
    failures = alarms["NotificationFailuresAlarm"]
    assert (failures["Namespace"], failures["MetricName"]) == ("Stormwatch", "NotificationFailures")
    assert failures["Threshold"] == 1
    assert failures["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    silent = alarms["SilentPollerAlarm"]
    watched = {
        query["MetricStat"]["Metric"]["Dimensions"][1]["Value"]
        for query in silent["Metrics"]
        if "MetricStat" in query
    }
    assert watched == set(CHANNELS)
    # A stopped schedule sends nothing at all: no data must count as silence
    assert silent["TreatMissingData"] == "breaching"
    assert silent["ComparisonOperator"] == "LessThanThreshold"
    # The silence spans the slowest poll rate the template allows (60 minutes)
    period = {q["MetricStat"]["Period"] for q in silent["Metrics"] if "MetricStat" in q}
    assert period == {900}
    assert silent["EvaluationPeriods"] == silent["DatapointsToAlarm"]
    assert 900 * silent["EvaluationPeriods"] > 3600


def test_the_silent_poller_expects_runs_only_of_the_enabled_channels(
    cfn: dict[str, Any],
) -> None:
    # Given two channels enabled / When the alarm's expression is resolved
    deployment = plan(cfn, {**DEFAULT_PARAMETERS, "EnabledChannels": "x,rss"})
    queries = Resolver(deployment).resolve(_alarms(cfn)["SilentPollerAlarm"]["Metrics"])
    (expression,) = [query["Expression"] for query in queries if "Expression" in query]
    # Then a missing period of an enabled channel counts 0 runs, of a disabled one 1
    fills = dict(re.findall(r"FILL\((\w+), (\d)\)", expression))
    assert fills == {channel: "0" if channel in ("x", "rss") else "1" for channel in CHANNELS}
    assert expression.startswith("MIN([")


def test_the_alarms_watch_only_metrics_the_handlers_emit(
    cfn: dict[str, Any], emitted: tuple[set[EmittedMetric], dict[str, set[str]]]
) -> None:
    metrics, values = emitted
    for name, alarm in _alarms(cfn).items():
        watched = [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", []) if "MetricStat" in q]
        if "MetricName" in alarm:
            watched.append(alarm)
        for metric in watched:
            if metric["Namespace"] != "Stormwatch":
                continue
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            key = ("Stormwatch", metric["MetricName"], frozenset(dimensions))
            assert key in metrics, name
            assert dimensions["service"] in values["service"], name


def test_the_local_stack_has_the_metric_math_alarm_and_the_dashboard(stack: LocalStack) -> None:
    cloudwatch = stack.client("cloudwatch")
    alarms = {alarm["AlarmName"]: alarm for alarm in cloudwatch.describe_alarms()["MetricAlarms"]}
    silent = alarms["stormwatch-dev-silent-poller"]
    assert len(silent["Metrics"]) == 1 + len(CHANNELS)
    assert silent["OKActions"] == [stack.outputs["OpsTopicArn"]]
    assert "stormwatch-dev-notification-failures" in alarms
    names = [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]
    assert names == ["stormwatch-dev"]
