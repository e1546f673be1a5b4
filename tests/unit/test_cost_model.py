"""The cost benchmark's price table and its arithmetic (bench/cost.py), without a stack."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.cost import (
    HOURS_PER_MONTH,
    Resources,
    Usage,
    kms_requests,
    load_prices,
    monthly_bill,
    template_resources,
    with_free_tier,
)


def _resources() -> Resources:
    return Resources(
        keys=1,
        secrets=2,
        alarm_metrics=16,
        dashboards=1,
        log_retention_days=90,
        mention_ttl_days=30,
        advanced_parameter=False,
    )


def test_the_price_table_names_its_region_date_and_sources() -> None:
    prices = load_prices()
    assert prices["region"] == "eu-central-1"
    assert prices["written"]
    assert prices["sources"]
    assert prices["cloudwatch"]["log_ingestion_gb"] == 0.63


def test_a_slice_is_scaled_to_a_month_by_the_ratio_of_times() -> None:
    usage = Usage(minutes=60, write_units=1000.0, invocations=Counter(PollMentionsFunction=30))
    bill = {item.name: item for item in monthly_bill(usage, _resources(), load_prices())}
    writes = bill["DynamoDB write units"]
    assert writes.quantity == pytest.approx(1000 * HOURS_PER_MONTH)
    assert writes.dollars == pytest.approx(1000 * HOURS_PER_MONTH / 1e6 * 0.7625)
    assert bill["Lambda requests"].quantity == pytest.approx(30 * HOURS_PER_MONTH)
    # Monthly resources do not scale with the slice.
    assert bill["Secrets Manager secrets"].dollars == pytest.approx(0.80)
    assert bill["CloudWatch alarms"].dollars == pytest.approx(1.60)


def test_only_the_invocations_of_traced_functions_are_billed_as_traces() -> None:
    # Given a slice of 30 polls and 60 evaluations, only the evaluator traced
    invocations = Counter(PollMentionsFunction=30, EvaluateAlertsFunction=60)
    usage = Usage(minutes=60, invocations=invocations, traced=frozenset({"EvaluateAlertsFunction"}))
    # When it is billed / Then X-Ray counts the evaluator's 60 an hour, not the polls
    bill = {item.name: item for item in monthly_bill(usage, _resources(), load_prices())}
    assert bill["X-Ray traces"].quantity == pytest.approx(60 * HOURS_PER_MONTH)
    assert bill["Lambda requests"].quantity == pytest.approx(90 * HOURS_PER_MONTH)


def test_free_allowances_come_off_only_up_to_what_was_used() -> None:
    usage = Usage(minutes=60)
    usage.metrics = {("Stormwatch", f"m{n}") for n in range(12)}
    items = monthly_bill(usage, _resources(), load_prices())
    metrics = next(item for item in items if item.name.startswith("CloudWatch custom"))
    assert metrics.dollars == pytest.approx(12 * 0.30)
    total = sum(item.dollars for item in items)
    free = with_free_tier(items, load_prices())
    # 10 of the 12 metrics, the 1 dashboard, 10 of the 16 alarm metrics are free.
    assert total - free == pytest.approx(10 * 0.30 + 3.00 + 10 * 0.10)


def test_kms_counts_one_request_per_cached_principal_and_five_minutes() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    moments = {
        "poll table": [t0, t0 + timedelta(minutes=1), t0 + timedelta(minutes=6)],
        "evaluate table": [t0],
    }
    assert kms_requests(moments, secret_reads=3) == 2 + 1 + 3


def test_monthly_resources_are_counted_and_metric_math_alarms_bill_per_metric() -> None:
    template = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key"},
            "One": {"Type": "AWS::SecretsManager::Secret"},
            "Two": {"Type": "AWS::SecretsManager::Secret"},
            "Errors": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors"}},
            "Silent": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Metrics": [
                        {"Id": "fewest", "Expression": "MIN([a, b])"},
                        {"Id": "a", "MetricStat": {}},
                        {"Id": "b", "MetricStat": {}},
                    ]
                },
            },
            "Dashboard": {"Type": "AWS::CloudWatch::Dashboard"},
        }
    }
    found = template_resources(template, 90, 30, config_bytes=5000)
    assert (found.keys, found.secrets, found.dashboards) == (1, 2, 1)
    assert found.alarm_metrics == 1 + 2
    assert found.advanced_parameter
    assert not template_resources(template, 90, 30, config_bytes=4000).advanced_parameter


def test_a_missing_or_broken_price_table_is_a_one_line_error(tmp_path: Path) -> None:
    broken = tmp_path / "prices.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit, match="cannot read the price table"):
        load_prices(broken)
    with pytest.raises(SystemExit, match="cannot read the price table"):
        load_prices(tmp_path / "missing.json")
