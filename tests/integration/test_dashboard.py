"""The CloudWatch dashboard and the alarms: everything they watch is a metric the handlers
really emit (read from the EMF lines they print on the local stack) or a field of a log
line they really print (the Logs Insights widgets), and every alarm reaches the ops topic,
both ways."""

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

from local.provision import translate
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
def printed(stack: LocalStack) -> tuple[str, dict[str, Any]]:
    """What a poll of X that stores mentions, a poll that cannot start, an evaluation and an
    evaluation with something for each alarm to read print; and the good poll's summary."""
    from stormwatch.warn import service

    printed = io.StringIO()
    stack.log = printed
    real_evaluate = service.evaluate

    def troubled(*args: Any, **kwargs: Any) -> Any:
        # The evaluation as it ran, with a refused page, a brand that failed and a silent
        # channel added: the metrics are sent only when not zero
        report, table = real_evaluate(*args, **kwargs)
        report.failed.append("a:started:sms")
        report.errors.append("acme: boom")
        report.unpolled.append("reddit")
        return report, table

    try:
        # In the storm: mentions stored, many of them negative.
        moment = stack.scenario.storm_start + timedelta(hours=2)
        with time_machine.travel(moment, tick=False):
            summary = stack.invoke("PollMentionsFunction", {"channel": "x"})
            with pytest.raises(ConfigError):
                stack.invoke("PollMentionsFunction", {"channel": "myspace"})
            stack.invoke("EvaluateAlertsFunction", {"scheduled_time": f"{moment:%Y-%m-%dT%H:%MZ}"})
            service.evaluate = troubled
            try:
                stack.invoke(
                    "EvaluateAlertsFunction", {"scheduled_time": f"{moment:%Y-%m-%dT%H:%MZ}"}
                )
            finally:
                service.evaluate = real_evaluate
    finally:
        stack.log = None
    return printed.getvalue(), summary


@pytest.fixture(scope="module")
def run(printed: tuple[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The EMF documents printed, and the good poll's summary."""
    return list(_emf_documents(printed[0])), printed[1]


@pytest.fixture(scope="module")
def logged(printed: tuple[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The JSON log lines printed, by their message."""
    lines: dict[str, list[dict[str, Any]]] = {}
    for line in printed[0].splitlines():
        if line.startswith("{") and '"message"' in line:
            document = json.loads(line)
            lines.setdefault(str(document.get("message")), []).append(document)
    return lines


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
    regions = {w["properties"]["region"] for w in body["widgets"] if w["type"] != "alarm"}
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
    assert len(titles) == 1


def _log_widgets(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    widgets = [w["properties"] for w in body["widgets"] if w["type"] == "log"]
    return {widget["title"]: widget for widget in widgets}


def _fields(document: dict[str, Any], prefix: str = "") -> set[str]:
    """A JSON log line's fields as Logs Insights names them (`summary.stored`)."""
    names = set()
    for key, value in document.items():
        names.add(prefix + key)
        if isinstance(value, dict):
            names |= _fields(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            names |= {f"{prefix}{key}.{index}" for index in range(len(value))}
    return names


def test_every_log_widget_reads_a_line_and_fields_the_handlers_print(
    stack: LocalStack, logged: dict[str, list[dict[str, Any]]]
) -> None:
    # Given the dashboard's Logs Insights widgets / When their queries are read
    assert stack.deployment is not None
    resources = stack.deployment.resources
    groups = {
        resources["PollMentionsLogGroup"].ref: "poll finished",
        resources["EvaluateAlertsLogGroup"].ref: "evaluation",
    }
    widgets = _log_widgets(_dashboard_body(stack))
    assert len(widgets) == 4
    for title, widget in widgets.items():
        query = widget["query"]
        # Then each reads one of the stack's log groups, filtered on the message its
        # handler logs once a run, and every field it names is in that line
        (source,) = re.findall(r"SOURCE '([^']+)'", query)
        message = groups[source]
        assert f'filter message = "{message}"' in query, title
        printed = set().union(*(_fields(line) for line in logged[message]))
        logged_names = r"(?:summary|counts)\.[\w.]+|negative|failed_sources|first_error|lag_seconds"
        named = set(re.findall(rf"\b({logged_names}|channel)\b", query))
        assert named, title
        assert named <= printed, f"{title}: {named - printed}"


def test_the_dashboard_shows_each_quantity_the_issue_asks_for(stack: LocalStack) -> None:
    body = _dashboard_body(stack)
    widgets = _log_widgets(body)
    per_channel = widgets["Polls per channel: mentions stored, negative share (%), errors, lag (s)"]
    for wanted in (
        "sum(summary.stored) as stored",
        "sum(negative) as negatives",
        # (Logs Insights cannot use an alias of the same stats command in an expression)
        "100 * sum(negative) / sum(summary.stored) as negative_share",
        "sum(failed_sources) as source_errors",
        "max(lag_seconds) as max_lag",
        "by channel",
    ):
        assert wanted in per_channel["query"]
    alerts = widgets["Alerts and notifications"]["query"]
    for count in ("dispatched", "sent", "failed", "given_up"):
        assert f"sum(counts.{count})" in alerts
    assert "failed_sources > 0" in widgets["Poll errors, newest first"]["query"]
    shown = {row[1] for _, row in _metric_rows(body)}
    assert {
        "NotificationFailures",
        "EvaluationErrors",
        "UnpolledChannels",
        "Errors",
        "IteratorAge",
    } == shown


def test_a_poll_logs_one_line_with_the_negative_mentions_it_stored(
    run: tuple[list[dict[str, Any]], dict[str, Any]], logged: dict[str, list[dict[str, Any]]]
) -> None:
    # Given a poll of X in the storm
    documents, summary = run
    (line,) = [d for d in logged["poll finished"] if d["channel"] == "x"]
    # Then its one line says how many of the mentions it stored are negative, and the
    # poller emits no metric of its own (per-channel metrics are billed each)
    assert line["summary"]["stored"] == summary["stored"] > 0
    assert 0 < line["negative"] <= summary["stored"]
    assert (line["failed_sources"], line["first_error"]) == (0, "")
    assert line["lag_seconds"] >= 0
    assert not [d for d in documents if "channel" in d]


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
    # (the counter's failures are retried, never lost: they show as its iterator age)
    assert errors == template_functions() - {"CountMentionsFunction"}
    behind = alarms["CountingBehindAlarm"]
    assert (behind["MetricName"], behind["Statistic"]) == ("IteratorAge", "Maximum")
    assert behind["Dimensions"][0]["Value"] == {"Ref": "CountMentionsFunction"}
    failures = alarms["NotificationFailuresAlarm"]
    assert (failures["Namespace"], failures["MetricName"]) == ("Stormwatch", "NotificationFailures")
    assert failures["Threshold"] == 1
    assert failures["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # A stopped poller: the evaluator counts the channels without a completed run, one metric
    silent = alarms["SilentPollerAlarm"]
    assert (silent["MetricName"], silent["Statistic"]) == ("UnpolledChannels", "Maximum")
    assert silent["Threshold"] == 1
    assert silent["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # A brand whose evaluation keeps failing, caught and counted by the evaluator
    evaluation = alarms["EvaluationErrorsAlarm"]
    assert evaluation["MetricName"] == "EvaluationErrors"
    # Each alarm reads one metric: no metric-math alarm billed per channel
    assert not [name for name, alarm in alarms.items() if "Metrics" in alarm]


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
    assert silent["MetricName"] == "UnpolledChannels"
    assert silent["OKActions"] == [stack.outputs["OpsTopicArn"]]
    assert "stormwatch-dev-notification-failures" in alarms
    names = [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]
    assert names == ["stormwatch-dev"]


def test_a_healthy_evaluation_sends_no_metric_and_a_troubled_one_sends_what_went_wrong(
    run: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    # Given the fixture's two evaluations: the first found nothing wrong, the second a
    # refused page, a failed brand and a silent channel
    documents = run[0]
    # Then only the second sent metrics (a metric costs by the hours it is sent in, and its
    # alarm reads a missing datapoint as all clear), one for each thing that went wrong
    assert len(documents) == 1
    (document,) = documents
    sent = {m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert sent == {"NotificationFailures", "EvaluationErrors", "UnpolledChannels"}
    assert [document[name] for name in sorted(sent)] == [[1.0], [1.0], [1.0]]


def test_the_dashboard_is_made_only_when_asked_for(cfn: dict[str, Any]) -> None:
    from local.provision import plan

    # Given the template as ops deploy it, without and with OpsDashboard=true
    dashboard = cfn["Resources"]["Dashboard"]
    assert dashboard["Condition"] == "WithDashboard"
    assert cfn["Outputs"]["DashboardUrl"]["Condition"] == "WithDashboard"
    # Then by default there is none ($3 a month at list price); asked for, there is one
    assert plan(cfn, DEFAULT_PARAMETERS).conditions["WithDashboard"] is False
    asked = {**DEFAULT_PARAMETERS, "OpsDashboard": "true"}
    assert plan(cfn, asked).conditions["WithDashboard"] is True
