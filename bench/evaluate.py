"""Evaluate: what one run of the alert evaluator asks of DynamoDB, for 50 brands on 8 channels.

On the local stack (moto, the table from template.yaml): 50 brands whose detectors know
14 days of a seasonal, Poisson-distributed mention volume on every channel, and the last
hours of buckets. Then the evaluator runs once a minute over simulated time (default 65
minutes, so each brand's hourly checkpoint falls inside), a bucket of new counts
arriving every 5 minutes and every poller reporting in, as in production. Counted from
the requests the evaluator sends (write units by DynamoDB's rule: 1 per started KB of
each item, twice that in a transaction):

- AWS requests per brand-evaluation (the evaluation's few global requests included);
- write units per brand-minute;
- the wall time of one evaluation of all brands (here on moto; on AWS a request takes
  a few milliseconds, moto's take longer);
- apart: a brand new to stormwatch learning 14 days of stored history, the one
  expensive evaluation of its life.

Last line: `evaluate: N requests per brand`.

    python -m bench.evaluate [--brands 50] [--minutes 65]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.recording import RecordingClient
from local.localconfig import read_document
from local.stack import LocalStack
from stormwatch.config import CHANNELS, Config, parse_config
from stormwatch.model import ALL_CHANNELS, BucketCounts, BucketKey, bucket_start
from stormwatch.notify import SnsNotifier
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.health import HealthLog
from stormwatch.persistence.mentions import MentionLedger
from stormwatch.persistence.outbox import Outbox
from stormwatch.persistence.table import Table
from stormwatch.persistence.warn_state import BrandState, WarnStateStore
from stormwatch.warn.detector import VolumeDetector
from stormwatch.warn.evaluate import Evaluator
from stormwatch.warn.lifecycle import BrandLifecycle

BUCKET = timedelta(minutes=5)
HISTORY_DAYS = 14
RECENT = timedelta(hours=3)
# Mentions per hour of a brand on each channel at an average hour (like the demo's airline).
RATES = {
    "x": 6.0,
    "mastodon": 2.0,
    "bluesky": 2.0,
    "facebook": 1.5,
    "instagram": 1.0,
    "linkedin": 0.3,
    "reddit": 0.5,
    "rss": 0.2,
}


def diurnal(moment: datetime) -> float:
    """Quiet nights, busy evenings: a factor around 1."""
    hour = moment.hour + moment.minute / 60
    daylight: float = max(0.0, math.sin(math.pi * (hour - 5) / 19))
    return 0.3 + 1.4 * math.pow(daylight, 1.5)


def poisson(rng: random.Random, mean: float) -> int:
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def counts_at(rng: random.Random, start: datetime, scale: float) -> dict[str, BucketCounts]:
    found = {}
    for channel, rate in RATES.items():
        total = poisson(rng, rate * scale * diurnal(start) * BUCKET.total_seconds() / 3600)
        if total:
            negative = total // 5
            found[channel] = BucketCounts(total=total, negative=negative, neutral=total - negative)
    return found


def document(brands: int) -> dict[str, Any]:
    base = read_document()
    extra = [
        {"id": f"brand-{n:02d}", "name": f"Brand {n:02d}", "keywords": [f"Brand {n:02d}"]}
        for n in range(len(base["brands"]), brands)
    ]
    base["brands"] = base["brands"][:brands] + extra
    return base


def learned_states(config: Config, t0: datetime, seed: int) -> dict[str, dict[str, Any]]:
    """Each series' detector after 14 days of the synthetic volume (one brand's worth:
    every brand starts from the same baseline, which does not change what is asked of
    DynamoDB)."""
    settings = config.alerts
    rng = random.Random(seed)
    detectors = {name: VolumeDetector(settings.volume) for name in (ALL_CHANNELS, *CHANNELS)}
    moment = t0 - timedelta(days=HISTORY_DAYS)
    while moment < t0:
        channels = counts_at(rng, moment, 1.0)
        for name, detector in detectors.items():
            if name == ALL_CHANNELS:
                total = sum(counts.total for counts in channels.values())
            else:
                total = channels[name].total if name in channels else 0
            detector.observe(moment, total)
        moment += BUCKET
    return {name: detector.to_state() for name, detector in detectors.items()}


def history(
    brands: Sequence[str], start: datetime, end: datetime, seed: int
) -> dict[BucketKey, BucketCounts]:
    rng = random.Random(seed)
    buckets = {}
    moment = start
    while moment < end:
        for brand in brands:
            for channel, counts in counts_at(rng, moment, 1.0).items():
                buckets[BucketKey(brand, channel, moment)] = counts
        moment += BUCKET
    return buckets


def recorded_evaluator(stack: LocalStack, config: Config, recording: RecordingClient) -> Evaluator:
    """The evaluator as the handler wires it, its DynamoDB requests recorded."""
    table = Table(recording, stack.outputs["TableName"])
    return Evaluator(
        config,
        WarnStateStore(table),
        MentionLedger(table),
        Outbox(table),
        SnsNotifier(
            stack.client("sns"), stack.outputs["AlertsTopicArn"], stack.outputs["OpsTopicArn"]
        ),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--brands", type=int, default=50)
    parser.add_argument("--minutes", type=int, default=65)
    parser.add_argument("--learning-brands", type=int, default=3)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="added to every DynamoDB request, as a region's round trip would be",
    )
    args = parser.parse_args(argv)

    # Relative to the run's clock: nothing here depends on the date.
    t0 = bucket_start(datetime.now(UTC), 5) - timedelta(days=1)
    layout = document(args.brands)
    with open(os.devnull, "w") as quiet, LocalStack(config_document=layout, log=quiet) as stack:
        config = parse_config(layout, now=t0)
        brand_ids = [brand.id for brand in config.brands]
        setup = Table(stack.client("dynamodb"), stack.outputs["TableName"])
        states = WarnStateStore(setup)
        detectors = learned_states(config, t0, seed=1)
        lifecycle = BrandLifecycle(brand_ids[0], config.alerts).to_state()
        for brand in brand_ids:
            states.save_brand(brand, BrandState(detectors, lifecycle, 0), [], t0)
        BucketStore(setup).import_history(history(brand_ids, t0 - RECENT, t0, seed=2))
        print(
            f"{len(brand_ids)} brands on {len(RATES)} channels, detectors learned from "
            f"{HISTORY_DAYS} days; {args.minutes} evaluations, one a minute, on the local stack"
        )

        recording = RecordingClient(stack.client("dynamodb"), args.latency_ms / 1000)
        evaluator = recorded_evaluator(stack, config, recording)
        health = HealthLog(setup)
        rng = random.Random(3)
        walls: list[float] = []
        write_units: list[float] = []
        operations: Counter[str] = Counter()
        for minute in range(1, args.minutes + 1):
            now = t0 + timedelta(minutes=minute)
            if now.minute % 5 == 0:
                # The bucket that just ended, as the pollers counted it.
                ended = now - BUCKET
                BucketStore(setup).import_history(
                    {
                        BucketKey(brand, channel, ended): counts
                        for brand in brand_ids
                        for channel, counts in counts_at(rng, ended, 1.0).items()
                    }
                )
            for channel in config.enabled_channels:
                health.record_poll(
                    channel, now - timedelta(seconds=20), succeeded=True, error=None, mentions=1
                )
            recording.clear()
            started = time.perf_counter()
            report = evaluator.run(now)
            walls.append(time.perf_counter() - started)
            if report.errors:
                raise SystemExit(f"evaluation failed: {report.errors[:3]}")
            operations.update(operation for operation, _ in recording.sent)
            write_units.append(recording.write_units)

        evaluations = len(walls) * len(brand_ids)
        per_brand = sum(operations.values()) / evaluations
        units = sum(write_units) / evaluations
        by_operation = ", ".join(
            f"{op} {count / evaluations:.2f}" for op, count in operations.most_common()
        )
        print(f"requests per brand-evaluation: {per_brand:.2f} ({by_operation})")
        print(f"write units per brand-minute: {units:.2f}")
        latency = f", {args.latency_ms:g} ms added per request" if args.latency_ms else ""
        print(
            f"one evaluation of {len(brand_ids)} brands{latency}: median "
            f"{statistics.median(walls):.2f} s, slowest {max(walls):.2f} s "
            "(the function's timeout is 60 s)"
        )
        learning(stack, config, t0, args.learning_brands)
    print(f"evaluate: {per_brand:.2f} requests per brand")


def learning(stack: LocalStack, config: Config, t0: datetime, brands: int) -> None:
    """New brands with 14 days of stored history: their first evaluation learns it all."""
    if brands <= 0:
        return
    newcomers = [f"new-{n:02d}" for n in range(brands)]
    layout = document(0)
    layout["brands"] = [{"id": b, "name": b, "keywords": [b]} for b in newcomers]
    fresh = parse_config(layout, now=t0)
    setup = Table(stack.client("dynamodb"), stack.outputs["TableName"])
    BucketStore(setup).import_history(
        history(newcomers, t0 - timedelta(days=HISTORY_DAYS), t0, seed=4)
    )
    recording = RecordingClient(stack.client("dynamodb"))
    evaluator = recorded_evaluator(stack, fresh, recording)
    started = time.perf_counter()
    report = evaluator.run(t0 + timedelta(minutes=1))
    wall = time.perf_counter() - started
    if report.errors or report.deferred:
        raise SystemExit(f"learning failed: {report.errors or report.deferred}")
    print(
        f"a new brand learning {HISTORY_DAYS} days of history: {wall / brands:.1f} s and "
        f"{recording.requests / brands:.1f} requests per brand ({brands} brands; evaluated "
        "one after another after the others, while the function's time allows)"
    )


if __name__ == "__main__":
    main()
