"""`make demo`: the storm scenario on the embedded local stack, in accelerated time.

The schedules deployed from template.yaml fire on their rate while a simulated clock
runs through the scenario (a quiet Saturday, then a storm from 03:00 on Sunday); each
firing calls the poll handler in-process against moto and the fake channel server.
At the end: what DynamoDB holds per channel, checked against the scenario.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from local.scenario import Scenario, build_scenario
from local.stack import LocalStack, schedules
from stormwatch.config import CHANNELS
from stormwatch.model import ALL_CHANNELS, BucketCounts, bucket_start
from stormwatch.store import DynamoStore

OUT = Path("out/demo")


@dataclass(frozen=True)
class Firing:
    name: str
    every: timedelta
    event: dict[str, Any]


def schedule_firings(stack: LocalStack) -> list[Firing]:
    """The deployed schedules with their rate, read back from the Scheduler."""
    firings = []
    for schedule in schedules(stack):
        match = re.fullmatch(r"rate\((\d+) minutes?\)", schedule["ScheduleExpression"])
        if match is None:
            raise ValueError(f"{schedule['Name']}: only rate() schedules are simulated")
        firings.append(
            Firing(
                schedule["Name"],
                timedelta(minutes=int(match.group(1))),
                json.loads(schedule["Target"]["Input"]),
            )
        )
    return sorted(firings, key=lambda firing: firing.name)


def run_schedules(
    stack: LocalStack,
    start: datetime,
    end: datetime,
    on_tick: Callable[[datetime, list[Any]], None] | None = None,
    invoke: Callable[[dict[str, Any]], Any] | None = None,
) -> None:
    """Move the clock from `start` to `end`, firing every schedule when it is due."""
    import time_machine

    firings = schedule_firings(stack)
    step = min(firing.every for firing in firings)
    call = invoke or (lambda event: stack.invoke("PollMentionsFunction", event))
    with time_machine.travel(start, tick=False) as clock:
        moment = start
        while moment <= end:
            clock.move_to(moment)
            results = [
                call(firing.event)
                for firing in firings
                if int((moment - start) / step) % int(firing.every / step) == 0
            ]
            if on_tick is not None:
                on_tick(moment, results)
            moment += step


def ground_truth(
    scenario: Scenario, bucket_minutes: int
) -> dict[tuple[str, str, datetime], BucketCounts]:
    """Total, reach and engagement per brand x channel (and ALL) x bucket, from the scenario."""
    truth: dict[tuple[str, str, datetime], BucketCounts] = {}
    for post in scenario.posts:
        start = bucket_start(post.created_at, bucket_minutes)
        for brand in post.brands:
            for channel in (post.channel, ALL_CHANNELS):
                counts = truth.setdefault((brand, channel, start), BucketCounts())
                counts.total += 1
                counts.reach += post.reach
                counts.engagement += post.engagement
    return truth


def stored_buckets(
    stack: LocalStack, scenario: Scenario, brands: list[str]
) -> dict[tuple[str, str, datetime], BucketCounts]:
    store = DynamoStore(stack.client("dynamodb"), stack.outputs["TableName"])
    found = {}
    for brand in brands:
        for channel in (*CHANNELS, ALL_CHANNELS):
            for start, counts in store.read_buckets(
                brand,
                channel,
                scenario.start - timedelta(hours=1),
                scenario.end + timedelta(hours=1),
            ).items():
                found[(brand, channel, start)] = counts
    return found


# --- presentation -----------------------------------------------------------------------

BARS = " ▁▂▃▄▅▆▇█"


class Progress:
    def __init__(self, console: TextIO, scenario: Scenario) -> None:
        self.console = console
        self.scenario = scenario
        self.hour_stored: Counter[str] = Counter()
        self.total = 0
        self.errors = 0
        self.rate_limited = 0
        self.history: list[int] = []
        self.invocations = 0
        self.started = time.monotonic()

    def tick(self, moment: datetime, results: list[Any]) -> None:
        self.invocations += len(results)
        for summary in results:
            self.hour_stored[summary["channel"]] += summary["stored"]
            self.errors += len(summary["errors"])
            self.rate_limited += sum(1 for o in summary["sources"].values() if o == "rate-limited")
        if moment.minute == 0 and moment > self.scenario.start:
            stored = sum(self.hour_stored.values())
            self.total += stored
            self.history.append(stored)
            peak = max(self.history) or 1
            spark = "".join(BARS[min(8, round(8 * n / peak))] for n in self.history[-24:])
            storm = "  ⚡ storm" if moment > self.scenario.storm_start else ""
            busiest = ", ".join(f"{ch} {n}" for ch, n in self.hour_stored.most_common(3) if n)
            self.console.write(
                f"  {moment:%a %H:%M}  +{stored:5d} mentions  total {self.total:6d}  "
                f"{spark:<24}  {busiest}{storm}\n"
            )
            self.console.flush()
            self.hour_stored.clear()


def report_table(
    console: TextIO,
    stored: dict[tuple[str, str, datetime], BucketCounts],
    truth: dict[tuple[str, str, datetime], BucketCounts],
    brand: str,
) -> bool:
    console.write(f"\n  {brand}: mentions stored in DynamoDB, per channel\n")
    header = (
        f"  {'channel':<10} {'mentions':>8} {'negative':>9} {'neutral':>8} {'positive':>9} "
        f"{'reach':>9} {'engagement':>10}  {'peak 5-min bucket':<22} {'truth':>7}\n"
    )
    console.write(header)
    console.write("  " + "-" * (len(header) - 3) + "\n")
    all_match = True
    for channel in (*CHANNELS, ALL_CHANNELS):
        rows = {k[2]: v for k, v in stored.items() if k[0] == brand and k[1] == channel}
        expected = {k[2]: v for k, v in truth.items() if k[0] == brand and k[1] == channel}
        total = BucketCounts()
        for counts in rows.values():
            total.merge(counts)
        truth_total = sum(counts.total for counts in expected.values())
        matches = all(
            (rows.get(start) or BucketCounts()).total == counts.total
            and (rows.get(start) or BucketCounts()).reach == counts.reach
            and (rows.get(start) or BucketCounts()).engagement == counts.engagement
            for start, counts in expected.items()
        ) and len(rows) == len(expected)
        all_match &= matches
        if not total.total and not truth_total:
            continue
        peak_start, peak = max(rows.items(), key=lambda item: item[1].total, default=(None, None))
        peak_text = f"{peak_start:%a %H:%M} ({peak.total})" if peak_start and peak else "-"

        def share(part: int, whole: int = total.total) -> str:
            return f"{100 * part / whole:5.1f}%" if whole else "    -"

        label = "all" if channel == ALL_CHANNELS else channel
        console.write(
            f"  {label:<10} {total.total:>8} {share(total.negative):>9} {share(total.neutral):>8} "
            f"{share(total.positive):>9} {total.reach:>9} {total.engagement:>10}  "
            f"{peak_text:<22} {truth_total:>6} {'✓' if matches else '✗'}\n"
        )
    return all_match


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volume", type=float, default=1.0, help="scale the scenario's rates")
    parser.add_argument("--hours", type=int, default=40, help="length of the scenario")
    parser.add_argument("--rate", default="rate(5 minutes)", help="the stack's PollRate")
    args = parser.parse_args(argv)

    console = sys.stdout
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / "lambda.log"
    scenario = build_scenario(volume=args.volume, hours=args.hours)
    brands = sorted({brand for post in scenario.posts for brand in post.brands})
    console.write(
        "stormwatch demo - Listen: mentions from every channel into DynamoDB metrics\n"
        f"  scenario: {len(scenario.posts)} posts on {len(CHANNELS)} channels, "
        f"{scenario.start:%a %d %b %H:%M} to {scenario.end:%a %H:%M} UTC; "
        f"storm from {scenario.storm_start:%a %H:%M}\n"
    )
    with (
        log_path.open("w", encoding="utf-8") as log,
        LocalStack(scenario=scenario, parameters={"PollRate": args.rate}, log=log) as stack,
    ):
        firings = schedule_firings(stack)
        console.write(
            f"  local stack: moto on {stack.endpoint}, fake channels on {stack.channels.base_url}\n"
            f"  deployed from template.yaml: table {stack.outputs['TableName']}, "
            f"{len(firings)} schedules ({firings[0].every.seconds // 60}-minute rate)\n"
            f"  handler logs: {log_path}\n\n"
        )
        progress = Progress(console, scenario)
        run_schedules(stack, scenario.start, scenario.end, progress.tick)
        stored = stored_buckets(stack, scenario, brands)
        truth = ground_truth(scenario, 5)
        ok = True
        for brand in brands:
            ok &= report_table(console, stored, truth, brand)
        elapsed = time.monotonic() - progress.started
        console.write(
            f"\n  {progress.invocations} poller runs over {args.hours} simulated hours "
            f"in {elapsed:.0f} s; "
            f"{progress.errors} source errors, {progress.rate_limited} rate-limit back-offs "
            f"(see {log_path})\n"
        )
        console.write(
            "  every bucket matches the scenario's ground truth (total, reach, engagement)\n"
            if ok
            else "  MISMATCH against the scenario's ground truth: see the ✗ rows\n"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
