"""Cost: what a month of stormwatch costs at 10k, 100k and 1M mentions a day.

A month is not simulated literally. For each rate the local stack (moto, every resource
from template.yaml, the fake channels) plays a slice of quiet time (default 60 minutes)
with 5 brands on 8 channels, the scenario's posts scaled so that the slice holds the
day's average hour, and the template's schedules firing on their rates (each channel's
poller, the evaluator) through the real handlers. Everything the code calls is counted
as it happens: AWS requests by operation, DynamoDB write and read units (by DynamoDB's
rules from the items sent and returned), SNS messages and deliveries, secret and
parameter reads, handler wall time, the bytes the handlers print (Powertools JSON logs
and EMF metrics) and the distinct custom metrics those create. The slice is then
scaled to a month (730 hours, AWS's month) by the ratio of times, and priced from one
table of list prices (`bench/prices/<region>.json`), with every resource of the template
that bills by the month.

What cannot be counted locally is estimated, and the output says how:
- Lambda time: moto answers in-process and the fakes on loopback, so local wall time
  misses the network. The bound used is the measured wall time plus, per request sent,
  8 ms to DynamoDB, 20 ms to another AWS API and 300 ms to a channel's API.
- KMS: DynamoDB and SNS cache a data key for 5 minutes per table or topic and caller;
  CloudWatch Logs is taken to do the same per log group; Secrets Manager decrypts once
  per secret read.
- X-Ray traces every invocation of a function whose tracing is Active (Lambda samples
  the first request each second, and these functions run a few times a minute); none of
  one in PassThrough (the schedules send no trace header). The template's parameters
  (`ScheduledTracing`) decide which.

Last line: `cost: $X/month at 100k mentions/day`.

    python -m bench.cost [--minutes 60] [--rates 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parent / "prices" / "eu-central-1.json"
HOURS_PER_MONTH = 730.0
# The bound on Lambda time added to the measured wall time, per request sent (see above).
LATENCY_SECONDS = {"dynamodb": 0.008, "aws": 0.020, "channel": 0.300}
KMS_CACHE = timedelta(minutes=5)
# Lambda's own lines per invocation in the JSON log format (platform.start, platform.report).
PLATFORM_LOG_BYTES = 600

EXTRA_BRANDS = (
    ("seewolf-bahn", "Seewolf Bahn", "SeewolfBahn"),
    ("kranich-mobil", "Kranich Mobil", "KranichMobil"),
    ("polarstern-energie", "Polarstern Energie", "PolarsternEnergie"),
)


@dataclass
class Usage:
    """What one slice of simulated time asked of AWS, as counted."""

    minutes: float
    mentions: int = 0
    invocations: Counter[str] = field(default_factory=Counter)
    wall_seconds: float = 0.0
    wall_by: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    bound_seconds: float = 0.0
    memory_mb: dict[str, int] = field(default_factory=dict)
    traced: frozenset[str] | None = None  # functions with active tracing (None: all)
    requests: Counter[str] = field(default_factory=Counter)  # "service:Operation"
    write_units: float = 0.0
    units_by: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    read_units: float = 0.0
    items_put: int = 0
    item_bytes: int = 0
    channel_requests: int = 0
    log_bytes: int = 0
    metrics: set[tuple[str, ...]] = field(default_factory=set)
    email_deliveries: int = 0
    sms_deliveries: int = 0
    kms_requests: int = 0

    def gb_seconds(self) -> float:
        """The bound on billed GB-seconds (wall time plus latencies, times memory)."""
        return self.bound_seconds * _mean_memory_gb(self)


def _mean_memory_gb(usage: Usage) -> float:
    total = sum(usage.invocations.values())
    if not total:
        return 0.0
    weighted = sum(usage.memory_mb.get(fn, 128) * n for fn, n in usage.invocations.items())
    return weighted / total / 1024


@dataclass(frozen=True)
class LineItem:
    name: str
    quantity: float
    unit: str
    dollars: float


@dataclass(frozen=True)
class Resources:
    """What the template deploys that bills by the month."""

    keys: int
    secrets: int
    alarm_metrics: int
    dashboards: int
    log_retention_days: int
    mention_ttl_days: int
    advanced_parameter: bool


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    try:
        prices: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SystemExit(f"{path}: cannot read the price table: {error}") from None
    for section in ("region", "dynamodb", "lambda", "cloudwatch", "kms", "secretsmanager"):
        if section not in prices:
            raise SystemExit(f"{path}: no {section!r} in the price table")
    return prices


def template_resources(
    template: Mapping[str, Any],
    log_retention_days: int,
    mention_ttl_days: int,
    config_bytes: int,
    created: set[str] | None = None,
) -> Resources:
    """Count the monthly-billed resources of a (translated) template, only those `created`
    (their conditions true) when given. A metric-math alarm bills per metric it reads."""
    counts: Counter[str] = Counter()
    alarm_metrics = 0
    for logical_id, resource in template["Resources"].items():
        if created is not None and logical_id not in created:
            continue
        kind = resource["Type"]
        counts[kind] += 1
        if kind == "AWS::CloudWatch::Alarm":
            metrics = resource["Properties"].get("Metrics")
            alarm_metrics += sum(1 for m in metrics if "MetricStat" in m) if metrics else 1
    return Resources(
        keys=counts["AWS::KMS::Key"],
        secrets=counts["AWS::SecretsManager::Secret"],
        alarm_metrics=alarm_metrics,
        dashboards=counts["AWS::CloudWatch::Dashboard"],
        log_retention_days=log_retention_days,
        mention_ttl_days=mention_ttl_days,
        advanced_parameter=config_bytes > 4096,
    )


def monthly_bill(usage: Usage, resources: Resources, prices: Mapping[str, Any]) -> list[LineItem]:
    """The slice scaled to a month and priced, line by line (SMS excluded: its price
    depends on the country and is listed apart)."""
    scale = HOURS_PER_MONTH * 60 / usage.minutes
    ddb, lam, cw = prices["dynamodb"], prices["lambda"], prices["cloudwatch"]
    invocations = sum(usage.invocations.values()) * scale
    scheduled = (
        usage.invocations["PollMentionsFunction"] + usage.invocations["EvaluateAlertsFunction"]
    ) * scale
    wru, rru = usage.write_units * scale, usage.read_units * scale
    gb_seconds = usage.gb_seconds() * scale
    log_gb = (usage.log_bytes + PLATFORM_LOG_BYTES * sum(usage.invocations.values())) * scale / 1e9
    # Steady state: a day's items live `mention_ttl_days`, each with DynamoDB's overhead.
    per_day = 24 * 60 / usage.minutes
    table_gb = (
        (usage.item_bytes + usage.items_put * ddb["item_overhead_bytes"])
        * per_day
        * resources.mention_ttl_days
        / 1e9
    )
    stored_logs_gb = log_gb * resources.log_retention_days / (HOURS_PER_MONTH / 24)
    publishes = usage.requests["sns:Publish"] * scale
    secret_reads = usage.requests["secretsmanager:GetSecretValue"] * scale
    parameter_reads = usage.requests["ssm:GetParameter"] * scale
    kms_requests = usage.kms_requests * scale
    ssm, sns, kms = prices.get("ssm", {}), prices["sns"], prices["kms"]
    secrets = prices["secretsmanager"]
    metrics = len(usage.metrics)
    per_invocation = prices["scheduler"]["invocations_per_million"] / 1e6
    per_trace = prices["xray"]["traces_recorded_per_million"] / 1e6
    traces = (
        sum(n for fn, n in usage.invocations.items() if usage.traced is None or fn in usage.traced)
        * scale
    )
    emails = usage.email_deliveries * scale
    # (line, quantity a month, unit, dollars per unit)
    lines: list[tuple[str, float, str, float]] = [
        ("DynamoDB write units", wru, "WRU", ddb["write_request_unit_per_million"] / 1e6),
        ("DynamoDB read units", rru, "RRU", ddb["read_request_unit_per_million"] / 1e6),
        ("DynamoDB storage", table_gb, "GB", ddb["storage_gb_month"]),
        ("DynamoDB point-in-time recovery", table_gb, "GB", ddb["pitr_gb_month"]),
        ("Lambda compute (bound)", gb_seconds, "GB-s", lam["gb_second_arm64"]),
        ("Lambda requests", invocations, "req", lam["requests_per_million"] / 1e6),
        ("Scheduler invocations", scheduled, "inv", per_invocation),
        ("X-Ray traces", traces, "traces", per_trace),
        ("CloudWatch Logs ingestion", log_gb, "GB", cw["log_ingestion_gb"]),
        ("CloudWatch Logs storage", stored_logs_gb, "GB", cw["log_storage_gb_month"]),
        ("CloudWatch custom metrics (EMF)", metrics, "metrics", cw["custom_metric_month"]),
        ("CloudWatch alarms", resources.alarm_metrics, "alarm metrics", cw["alarm_metric_month"]),
        ("CloudWatch dashboard", resources.dashboards, "dashboards", cw["dashboard_month"]),
        ("SNS publishes", publishes, "req", sns["publish_requests_per_million"] / 1e6),
        ("SNS email deliveries", emails, "emails", sns["email_deliveries_per_100k"] / 1e5),
        ("KMS keys", resources.keys, "keys", kms["key_month"]),
        ("KMS requests", kms_requests, "req", kms["requests_per_10k"] / 1e4),
        ("Secrets Manager secrets", resources.secrets, "secrets", secrets["secret_month"]),
        ("Secrets Manager reads", secret_reads, "req", secrets["api_calls_per_10k"] / 1e4),
    ]  # fmt: skip
    if resources.advanced_parameter and ssm:
        per_read = ssm["advanced_api_interactions_per_10k"] / 1e4
        monthly = ssm["advanced_parameter_month"]
        lines.append(("SSM advanced parameter (config > 4 KB)", 1, "param", monthly))
        lines.append(("SSM advanced parameter reads", parameter_reads, "req", per_read))
    return [LineItem(name, qty, unit, qty * price) for name, qty, unit, price in lines]


def with_free_tier(items: Sequence[LineItem], prices: Mapping[str, Any]) -> float:
    """The total after the account's always-free allowances (`free_tier` in the table)."""
    allowances = prices.get("free_tier", {})
    total = 0.0
    for item in items:
        free = allowances.get(item.name, 0)
        if item.quantity > 0 and free:
            total += item.dollars * max(0.0, item.quantity - free) / item.quantity
        else:
            total += item.dollars
    return total


def kms_requests(moments: Mapping[str, Sequence[datetime]], secret_reads: int) -> int:
    """KMS requests under the caching rule: one per 5-minute window in which a cached
    principal (a table, topic or log group, per function) was used; plus one per secret read."""
    windows = {
        (principal, int(moment.timestamp() // KMS_CACHE.total_seconds()))
        for principal, times in moments.items()
        for moment in times
    }
    return len(windows) + secret_reads


def print_bill(
    rate: int, usage: Usage, items: Sequence[LineItem], prices: Mapping[str, Any]
) -> float:
    total = sum(item.dollars for item in items)
    print(
        f"\n{rate:,} mentions/day: {usage.mentions:,} stored in the {usage.minutes:g}-minute "
        f"slice ({usage.mentions * 1440 / usage.minutes:,.0f} a day at that rate)"
    )
    print(f"  {'line item':<40} {'per month':>16} {'unit':<14} {'USD':>9}")
    for item in items:
        print(f"  {item.name:<40} {item.quantity:>16,.1f} {item.unit:<14} {item.dollars:>9.2f}")
    print(f"  {'total (without SMS)':<40} {'':>16} {'':<14} {total:>9.2f}")
    free = with_free_tier(items, prices)
    print(f"  {'... after the always-free allowances':<40} {'':>16} {'':<14} {free:>9.2f}")
    if usage.items_put:
        print(f"  mean item put: {usage.item_bytes / usage.items_put:.0f} bytes")
    if usage.sms_deliveries:
        print(f"  SMS: {usage.sms_deliveries * HOURS_PER_MONTH * 60 / usage.minutes:,.0f} a month")
    return total


# --- the slice on the local stack ----------------------------------------------------------


def five_brands(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    brands = list(document["brands"])
    for brand_id, name, tag in EXTRA_BRANDS:
        # No hashtags: Instagram's hashtag search knows the example's brands only (and
        # allows 30 hashtags a week); X and the text matching find the tag as a keyword.
        brands.append({"id": brand_id, "name": name, "keywords": [name, tag]})
    return brands


def spread_over_brands(posts: Sequence[Any], seed: int) -> list[Any]:
    """The scenario's storm-brand posts shared among it and the three extra brands, by
    writing the other brand's name where the post names Nordwind Air."""
    from local.scenario import STORM_BRAND

    rng = random.Random(seed)
    spread = []
    for post in posts:
        pick = rng.randrange(len(EXTRA_BRANDS) + 1)
        # Instagram's fake finds hashtag posts by the brand's hashtag: theirs stay.
        keep = post.brands != (STORM_BRAND,) or post.channel == "instagram"
        if keep or pick == len(EXTRA_BRANDS):
            spread.append(post)
            continue
        brand_id, name, tag = EXTRA_BRANDS[pick]
        text = post.text
        for old, new in (
            ("#NordwindAir", f"#{tag}"),
            ("@nordwindair", f"@{tag.lower()}"),
            ("NORDWIND AIR", name.upper()),
            ("nordwind air", name.lower()),
            ("Nordwind Air", name),
            ("NordwindAir", tag),
            ("Nordwind", name),
        ):
            text = text.replace(old, new)
        spread.append(replace(post, text=text, brands=(brand_id,)))
    return spread


def slice_scenario(rate: int, start: datetime, minutes: int) -> Any:
    """Quiet time (the storm a year away) holding `rate`/day's average share of posts."""
    from local.scenario import Scenario, build_scenario

    hours = math.ceil(minutes / 60) + 1

    def build(volume: float) -> list[Any]:
        scenario = build_scenario(
            start=start, hours=hours, storm_offset=timedelta(days=365), volume=volume
        )
        end = start + timedelta(minutes=minutes)
        return [post for post in scenario.posts if post.created_at < end]

    wanted = rate * minutes / 1440
    # Calibrated on a large draw: a small one's noise would shift every rate alike.
    about_brands = sum(1 for post in build(1000.0) if post.brands)
    volume = wanted / max(1, about_brands) * 1000.0
    posts = spread_over_brands(build(volume), seed=rate)
    return Scenario(start, start + timedelta(hours=hours), start + timedelta(days=365), posts)


class _LogMeter(io.StringIO):
    """The stack's log: counts the bytes handlers print and the EMF metrics among them."""

    def __init__(self) -> None:
        self.bytes = 0
        self.metrics: set[tuple[str, ...]] = set()
        self._line = ""

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            self._metrics_of(line)
        return len(text)

    def _metrics_of(self, line: str) -> None:
        if '"_aws"' not in line:
            return
        try:
            record = json.loads(line)
        except ValueError:
            return
        for directive in record["_aws"].get("CloudWatchMetrics", []):
            for dimensions in directive.get("Dimensions", []):
                values = tuple(f"{name}={record.get(name)}" for name in dimensions)
                for metric in directive.get("Metrics", []):
                    self.metrics.add((directive["Namespace"], metric["Name"], *values))

    def writable(self) -> bool:
        return True


class _AwsMeter:
    """Every AWS request a handler sends, with DynamoDB's units, and when each cached-key
    principal (table, topic, log group) was used, per function."""

    def __init__(self) -> None:
        self.function = ""
        self.usage: Usage | None = None
        self.moments: dict[str, list[datetime]] = {}
        self.lock = threading.Lock()

    def install(self) -> None:
        from botocore.client import BaseClient

        real = BaseClient._make_api_call  # type: ignore[attr-defined]
        meter = self

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            answer = real(client, operation, params)
            if meter.usage is not None and meter.function:
                meter.record(client.meta.service_model.signing_name, operation, params, answer)
            return answer

        BaseClient._make_api_call = call  # type: ignore[attr-defined]

    def record(self, service: str, operation: str, params: dict[str, Any], answer: Any) -> None:
        from botocore import xform_name

        from stormwatch.persistence.keys import MENTION_PARTITION_PREFIX
        from stormwatch.persistence.table import item_size, write_units

        usage = self.usage
        assert usage is not None
        now = datetime.now(UTC)
        if service == "sqs":
            return  # the local stack reading its taps of the SNS subscriptions
        with self.lock:
            usage.requests[f"{service}:{operation}"] += 1
            usage.bound_seconds += LATENCY_SECONDS["dynamodb" if service == "dynamodb" else "aws"]
            if service == "dynamodb":
                self.moments.setdefault(f"{self.function} table", []).append(now)
                units = write_units(xform_name(operation), params)
                usage.write_units += units
                usage.units_by[f"{self.function} {operation}"] += units
                if operation == "Query":
                    size = sum(item_size(item) for item in answer.get("Items", []))
                    consistent = params.get("ConsistentRead", False)
                    usage.read_units += max(1, math.ceil(size / 4096)) * (1 if consistent else 0.5)
                for entries in params.get("RequestItems", {}).values():
                    for entry in entries if operation == "BatchWriteItem" else ():
                        item = entry.get("PutRequest", {}).get("Item", {})
                        if item.get("pk", {}).get("S", "").startswith(MENTION_PARTITION_PREFIX):
                            usage.items_put += 1
                            usage.item_bytes += item_size(item)
            elif service == "sns" and "TopicArn" in params:
                self.moments.setdefault(f"{self.function} {params['TopicArn']}", []).append(now)

    def invocation(self, function: str) -> None:
        self.function = function
        self.moments.setdefault(f"{function} logs", []).append(datetime.now(UTC))


def traced_functions(deployment: Any) -> frozenset[str]:
    """The functions whose X-Ray tracing resolves to Active under the stack's parameters."""
    from local.provision import Resolver

    resolver = Resolver(deployment)
    return frozenset(
        name
        for name, resource in deployment.template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
        and resolver.resolve(resource["Properties"].get("TracingConfig", {})).get("Mode")
        == "Active"
    )


def measure_slice(stack: Any, meter: _AwsMeter, log: _LogMeter, rate: int, minutes: int) -> Usage:
    import time_machine

    from local.demo import _scheduled_input, schedule_firings

    assert stack.deployment is not None
    resources = stack.deployment.template["Resources"]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    stack.reset(slice_scenario(rate, start, minutes))
    usage = Usage(minutes=minutes)
    usage.memory_mb = {
        name: int(resource["Properties"].get("MemorySize", 128))
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    usage.traced = traced_functions(stack.deployment)
    meter.usage, meter.moments = usage, {}
    log.bytes, log.metrics = 0, set()
    firings = schedule_firings(stack)
    with time_machine.travel(start, tick=False) as clock:
        for minute in range(1, minutes + 1):
            moment = start + timedelta(minutes=minute)
            clock.move_to(moment)
            for firing in firings:
                if minute % int(firing.every / timedelta(minutes=1)):
                    continue
                timeout = float(resources[firing.function]["Properties"].get("Timeout", 3))
                exchanges = len(stack.world.exchanges)
                meter.invocation(firing.function)
                began = time.perf_counter()
                stack.invoke(firing.function, _scheduled_input(firing.event, moment), timeout)
                wall = time.perf_counter() - began
                meter.function = ""
                channel_requests = len(stack.world.exchanges) - exchanges
                usage.invocations[firing.function] += 1
                usage.wall_seconds += wall
                usage.wall_by[firing.function] += wall
                usage.bound_seconds += wall + channel_requests * LATENCY_SECONDS["channel"]
                usage.channel_requests += channel_requests
            stack.world.exchanges.clear()
            _count_stream(stack, meter, usage)
        for name, messages in stack.received().items():
            if " email:" in name:
                usage.email_deliveries += len(messages)
            else:
                usage.sms_deliveries += len(messages)
    usage.sms_deliveries += len(stack.sms_sent())
    usage.mentions = _stored_mentions(stack)
    usage.log_bytes, usage.metrics = log.bytes, set(log.metrics)
    usage.kms_requests = kms_requests(
        meter.moments, usage.requests["secretsmanager:GetSecretValue"]
    )
    meter.usage = None
    return usage


def _stored_mentions(stack: Any) -> int:
    """The mention items the slice left in the table: each post once, however often a
    poll wrote it (two sources finding it, a page read again)."""
    from stormwatch.persistence.keys import MENTION_PARTITION_PREFIX

    client = stack.client("dynamodb")
    paginator = client.get_paginator("scan")
    return sum(
        page["Count"]
        for page in paginator.paginate(
            TableName=stack.outputs["TableName"],
            FilterExpression="begins_with(pk, :mention)",
            ExpressionAttributeValues={":mention": {"S": MENTION_PARTITION_PREFIX}},
            Select="COUNT",
        )
    )


def _count_stream(stack: Any, meter: _AwsMeter, usage: Usage) -> None:
    """The stream's batching window ends: what the minute's polls stored is counted
    (`CountMentionsStream`; Lambda's reads of the stream are free)."""
    function = "CountMentionsFunction"
    before = stack.streams.invocations
    meter.function = function
    began = time.perf_counter()
    stack.streams.deliver()
    wall = time.perf_counter() - began
    meter.function = ""
    invocations = stack.streams.invocations - before
    if invocations:
        meter.moments.setdefault(f"{function} logs", []).append(datetime.now(UTC))
        usage.invocations[function] += invocations
        usage.wall_seconds += wall
        usage.wall_by[function] += wall
        usage.bound_seconds += wall


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=60, help="simulated minutes per rate")
    parser.add_argument("--rates", default="10000,100000,1000000", help="mentions a day")
    parser.add_argument("--prices", type=Path, default=PRICES)
    args = parser.parse_args(argv)
    try:
        rates = [int(rate) for rate in args.rates.split(",")]
    except ValueError:
        raise SystemExit(
            f"--rates: whole numbers separated by commas, got {args.rates!r}"
        ) from None
    if args.minutes < 10 or any(rate <= 0 for rate in rates):
        raise SystemExit("--minutes must be at least 10 and every rate above 0")
    prices = load_prices(args.prices)

    from local.localconfig import read_document
    from local.stack import LocalStack

    document = read_document()
    brands = five_brands(document)
    log = _LogMeter()
    totals: dict[int, float] = {}
    with LocalStack(settings={"brands": brands}, log=log, record_exchanges=True) as stack:
        meter = _AwsMeter()
        meter.install()
        assert stack.deployment is not None
        assert stack.streams is not None
        stack.streams.automatic = False
        config = stack.config()
        parameter = stack.client("ssm").get_parameter(Name=stack.config_parameter())
        resources = template_resources(
            stack.deployment.template,
            int(stack.parameters.get("LogRetentionDays", 90)),
            config.mention_ttl_days,
            len(parameter["Parameter"]["Value"].encode()),
            set(stack.deployment.resources),
        )
        print(
            f"prices: {prices['region']} ({prices['region_name']}), written {prices['written']}, "
            "list prices without free tiers"
        )
        print(
            f"{len(config.brands)} brands on {len(config.enabled_channels)} channels; per rate a "
            f"{args.minutes}-minute slice of the template's schedules on the local stack, "
            f"scaled x{HOURS_PER_MONTH * 60 / args.minutes:,.0f} to a month of "
            f"{HOURS_PER_MONTH:g} h"
        )
        for rate in rates:
            usage = measure_slice(stack, meter, log, rate, args.minutes)
            totals[rate] = print_bill(rate, usage, monthly_bill(usage, resources, prices), prices)
            top = ", ".join(f"{name} {count}" for name, count in usage.requests.most_common(6))
            print(
                f"  counted in the slice: {sum(usage.invocations.values())} invocations, "
                f"{usage.wall_seconds:.1f} s wall ({usage.bound_seconds:.1f} s with latencies), "
                f"{usage.channel_requests} channel requests, {usage.log_bytes:,} log bytes, "
                f"{len(usage.metrics)} custom metrics; AWS requests: {top}"
            )
            writes = ", ".join(
                f"{name.replace('Function', '')} {units / max(1, usage.mentions):.2f}"
                for name, units in sorted(usage.units_by.items(), key=lambda kv: -kv[1])[:5]
            )
            print(f"  write units per mention stored: {writes}")
            walls = ", ".join(
                f"{name.replace('Function', '')} {usage.wall_by[name] / count:.2f} s"
                for name, count in usage.invocations.items()
            )
            print(f"  wall time per invocation on the local stack: {walls}")
    headline = 100_000 if 100_000 in totals else rates[0]
    print(f"cost: ${totals[headline]:.2f}/month at {headline // 1000}k mentions/day")


if __name__ == "__main__":
    main()
