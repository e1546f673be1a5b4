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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from local.act_demo import run_act
from local.history import count_buckets, quiet_history
from local.report_demo import write_report
from local.scenario import DEFAULT_HOURS, Scenario, build_scenario
from local.stack import LocalStack, schedules
from stormwatch.config import CHANNELS
from stormwatch.model import ALL_CHANNELS, BucketCounts, bucket_start
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.table import Table

OUT = Path("out/demo")


@dataclass(frozen=True)
class Firing:
    name: str
    every: timedelta
    event: dict[str, Any]
    function: str


def schedule_firings(stack: LocalStack) -> list[Firing]:
    """The deployed schedules with their rate, read back from the Scheduler."""
    assert stack.deployment is not None
    by_arn = {
        physical.attributes.get("Arn"): logical_id
        for logical_id, physical in stack.deployment.resources.items()
        if stack.deployment.template["Resources"][logical_id]["Type"] == "AWS::Lambda::Function"
    }
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
                by_arn[schedule["Target"]["Arn"]],
            )
        )
    return sorted(firings, key=lambda firing: firing.name)


def run_schedules(
    stack: LocalStack,
    start: datetime,
    end: datetime,
    on_tick: Callable[[datetime, list[Any]], None] | None = None,
) -> None:
    """Move the clock from `start` to `end`, firing every schedule when it is due, with the
    input EventBridge Scheduler would send (its scheduled-time placeholder filled in)."""
    firings = schedule_firings(stack)
    step = min(firing.every for firing in firings)

    def due(moment: datetime) -> list[Firing]:
        ticks = int((moment - start) / step)
        return [firing for firing in firings if ticks % int(firing.every / step) == 0]

    moments = (start + step * n for n in range(int((end - start) / step) + 1))
    run_moments(stack, moments, due, on_tick)


def run_moments(
    stack: LocalStack,
    moments: Iterable[datetime],
    due: Callable[[datetime], list[Firing]],
    on_tick: Callable[[datetime, list[Any]], None] | None = None,
) -> None:
    """Stop the clock at each of `moments` in turn and fire the schedules `due` then."""
    import time_machine

    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        for moment in moments:
            clock.move_to(moment)
            results = [
                stack.invoke(firing.function, _scheduled_input(firing.event, moment))
                for firing in due(moment)
            ]
            if on_tick is not None:
                on_tick(moment, results)


def _scheduled_input(event: dict[str, Any], moment: datetime) -> dict[str, Any]:
    text = json.dumps(event).replace(
        "<aws.scheduler.scheduled-time>", moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    return dict(json.loads(text))


def ground_truth(
    scenario: Scenario,
    bucket_minutes: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[tuple[str, str, datetime], BucketCounts]:
    """Total, reach and engagement per brand x channel (and ALL) x bucket, from the scenario's
    posts created in [since, until] (the whole scenario by default)."""
    truth: dict[tuple[str, str, datetime], BucketCounts] = {}
    for post in scenario.posts:
        if (since and post.created_at < since) or (until and post.created_at > until):
            continue
        start = bucket_start(post.created_at, bucket_minutes)
        for brand in post.brands:
            for channel in (post.channel, ALL_CHANNELS):
                counts = truth.setdefault((brand, channel, start), BucketCounts())
                counts.total += 1
                counts.reach += post.reach
                counts.engagement += post.engagement
    return truth


def stored_buckets(
    stack: LocalStack, scenario: Scenario, brands: list[str], since: datetime | None = None
) -> dict[tuple[str, str, datetime], BucketCounts]:
    """What DynamoDB holds per brand x channel (and ALL) x bucket from `since` (by default
    the scenario's start, where the imported quiet weeks end)."""
    store = BucketStore(Table(stack.client("dynamodb"), stack.outputs["TableName"]))
    found = {}
    for brand in brands:
        series = store.read(brand, since or scenario.start, scenario.end + timedelta(hours=1))
        for channel, counts in series.items():
            for start, bucket in counts.items():
                found[(brand, channel, start)] = bucket
    return found


# --- presentation -----------------------------------------------------------------------

BARS = " ▁▂▃▄▅▆▇█"


class Progress:
    """Hour by hour: mentions stored, the busiest channels, and what people were told."""

    def __init__(self, console: TextIO, stack: LocalStack, acknowledge_after: timedelta) -> None:
        self.console = console
        self.stack = stack
        self.scenario = stack.scenario
        self.acknowledge_after = acknowledge_after
        self.hour_stored: Counter[str] = Counter()
        self.total = 0
        self.errors = 0
        self.rate_limited = 0
        self.history: list[int] = []
        self.polls = 0
        self.evaluations = 0
        self.sms_seen = 0
        self.first_page: datetime | None = None
        self.acknowledged: set[str] = set()
        self.first_acknowledged: tuple[datetime, str] | None = None
        """When the first alert was acknowledged, and which: the Act part starts there."""
        self.open_alert: str | None = None
        self.received: list[tuple[datetime, str, dict[str, Any]]] = []
        self.sms: list[tuple[datetime, str, str]] = []
        self.started = time.monotonic()
        self.last_moment: datetime | None = None
        self.resolved_at: datetime | None = None
        """When everyone was told the storm is over."""

    def tick(self, moment: datetime, results: list[Any]) -> None:
        self.last_moment = moment
        for summary in results:
            if "channel" in summary:
                self.polls += 1
                self.hour_stored[summary["channel"]] += summary["stored"]
                self.errors += len(summary["errors"])
                self.rate_limited += sum(
                    1 for o in summary["sources"].values() if o == "rate-limited"
                )
            else:
                self.evaluations += 1
                alerts = [o["alert"] for o in summary["brands"].values() if o["alert"]]
                self.open_alert = alerts[0] if alerts else None
        self._show_deliveries(moment)
        self._acknowledge(moment)
        if moment.minute == 0 and moment > self.scenario.start:
            self._hour(moment)

    def _show_deliveries(self, moment: datetime) -> None:
        for name, messages in self.stack.received().items():
            for message in messages:
                self.received.append((moment, name, message))
                if message["attributes"].get("kind") == "resolved":
                    self.resolved_at = self.resolved_at or moment
                if " email:" in name:
                    self._line(
                        moment, "✉", f"email to {name.split(':', 1)[1]}", message["subject"] or ""
                    )
        sent = self.stack.sms_sent()
        for phone, text in sent[self.sms_seen :]:
            self.sms.append((moment, phone, text))
            who = self._who(phone)
            self._line(moment, "✆", f"SMS to {who}", text.split("\n", 1)[0])
            if self.first_page is None:
                self.first_page = moment
        self.sms_seen = len(sent)

    def _acknowledge(self, moment: datetime) -> None:
        from ops.cli import acknowledge

        alert = self.open_alert
        if alert is None or alert in self.acknowledged or self.first_page is None:
            return
        if moment - self.first_page < self.acknowledge_after:
            return
        config = self.stack.config()
        on_call = config.roster.on_call(moment).contacts[0].name if config.roster else "on call"
        acknowledge(self.stack.outputs["TableName"], alert, on_call, moment)
        self.acknowledged.add(alert)
        self.first_acknowledged = self.first_acknowledged or (moment, alert)
        self._line(moment, "✔", f"{on_call} acknowledges", f"stormwatch ack {alert}")

    def _who(self, phone: str) -> str:
        config = self.stack.config()
        names = {c.phone: c.name for c in config.contacts.values() if c.phone}
        return f"{names.get(phone, 'the fallback phone')} ({phone[:6]}…)"

    def _line(self, moment: datetime, mark: str, what: str, text: str) -> None:
        local = moment.astimezone(ZoneInfo(self.stack.config().time_zone))
        self.console.write(f"      {mark} {local:%a %H:%M} {what}: {text[:90]}\n")

    def _hour(self, moment: datetime) -> None:
        stored = sum(self.hour_stored.values())
        self.total += stored
        self.history.append(stored)
        peak = max(self.history) or 1
        spark = "".join(BARS[min(8, round(8 * n / peak))] for n in self.history[-24:])
        storm = "  ⚡ storm" if moment > self.scenario.storm_start else ""
        busiest = ", ".join(f"{ch} {n}" for ch, n in self.hour_stored.most_common(3) if n)
        zone = ZoneInfo(self.stack.config().time_zone)
        start, end = (moment - timedelta(hours=1)).astimezone(zone), moment.astimezone(zone)
        self.console.write(
            f"  {start:%a %H}-{end:%H}h  +{stored:5d} mentions  total {self.total:6d}  "
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


# A few of the hiccups real APIs have, in the middle of the storm (simulated time).
HICCUPS = (
    (timedelta(hours=2, minutes=10), "status:429", "x", 1),
    (timedelta(hours=3), "status:503", "mastodon", 2),
    (timedelta(hours=4, minutes=30), "html", "facebook", 2),
)


STORM_STEP = timedelta(minutes=5)
CALM_STEP = timedelta(minutes=30)
LEAD_IN = timedelta(hours=1)
CLOSE_WATCH = timedelta(hours=2)
ACT_AFTER_ACK = timedelta(minutes=5)
"""The Act part starts this long after the on-call person acknowledged the alert."""


def night_of_the_storm(scenario: Scenario, progress: Progress) -> Iterator[datetime]:
    """The moments the demo stops the clock: every 5 minutes from an hour before the
    storm until two hours into it (the alert, its escalation and acknowledgement), then
    every 30 minutes - nothing new happens in between but the storm dying down - until
    everyone has heard that it is over."""
    moment = scenario.storm_start - LEAD_IN
    while moment <= scenario.end:
        yield moment
        if progress.resolved_at is not None:
            return
        step = STORM_STEP if moment < scenario.storm_start + CLOSE_WATCH else CALM_STEP
        moment += step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volume", type=float, default=1.0, help="scale the scenario's rates")
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"the whole {DEFAULT_HOURS}-hour scenario, a quiet Saturday included, every 5 "
        "minutes (about 12 minutes)",
    )
    args = parser.parse_args(argv)

    console = sys.stdout
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / "lambda.log"
    scenario = build_scenario(volume=args.volume)
    brands = sorted({brand for post in scenario.posts for brand in post.brands})
    begin = scenario.start if args.full else scenario.storm_start - LEAD_IN
    console.write(
        "stormwatch demo - Listen, Warn and Act on the embedded local stack\n"
        f"  scenario: {len(scenario.posts)} posts on {len(CHANNELS)} channels, "
        f"{scenario.start:%a %d %b %H:%M} to {scenario.end:%a %H:%M} UTC; "
        f"a storm from {scenario.storm_start:%a %H:%M} UTC (night to Sunday)\n"
    )
    rate = "rate(5 minutes)"
    parameters = {"PollRate": rate, "EvaluateRate": rate}
    with (
        log_path.open("w", encoding="utf-8") as log,
        LocalStack(scenario=scenario, parameters=parameters, log=log) as stack,
    ):
        firings = schedule_firings(stack)
        store = BucketStore(Table(stack.client("dynamodb"), stack.outputs["TableName"]))
        history = quiet_history(scenario.start, 14, volume=args.volume, seed=7)
        # What stormwatch would have counted before the demo starts: its first poll reads
        # the initial lookback, so the counts before that come from the same posts.
        polled_from = begin - timedelta(minutes=stack.config().initial_lookback_minutes)
        if not args.full:
            history.update(count_buckets(scenario, 5, until=polled_from))
        imported = store.import_history(history)
        console.write(
            f"  local stack: moto on {stack.endpoint}, fake channels on {stack.channels.base_url}\n"
            f"  deployed from template.yaml: table {stack.outputs['TableName']}, "
            f"{len(firings)} schedules ({rate}: pollers and the alert evaluator)\n"
            f"  the weeks before imported as history ({imported} buckets), so the baseline\n"
            "  knows the brand's daily rhythm. "
            + (
                "Every 5 minutes the pollers and the evaluator run (deployed: the evaluator "
                "every minute).\n"
                if args.full
                else f"From {begin.astimezone(ZoneInfo(stack.config().time_zone)):%a %H:%M} "
                "the pollers and the "
                "evaluator run every 5 minutes\n  while the storm builds, every 30 while it "
                "dies down (deployed: the evaluator every minute).\n"
            )
            + f"  Handler logs: {log_path}. Times below are {stack.config().time_zone} (the "
            "roster's);\n  each line sums the hour that ended.\n\n"
        )
        progress = Progress(console, stack, acknowledge_after=timedelta(minutes=20))
        hiccups = sorted(
            (scenario.storm_start + after, kind, ch, n) for after, kind, ch, n in HICCUPS
        )

        def tick(moment: datetime, results: list[Any]) -> None:
            while hiccups and hiccups[0][0] <= moment:
                _, kind, channel, times = hiccups.pop(0)
                stack.world.faults.arm(kind, channel=channel, times=times)
            progress.tick(moment, results)

        if args.full:
            run_schedules(stack, scenario.start, scenario.end, tick)
        else:
            run_moments(stack, night_of_the_storm(scenario, progress), lambda _: firings, tick)
        last = progress.last_moment or scenario.end
        # (the scenario's own posts: the quiet weeks imported before it end at its start)
        checked_from = max(polled_from, scenario.start)
        stored = stored_buckets(stack, scenario, brands, since=checked_from)
        truth = ground_truth(scenario, 5, since=checked_from, until=last)
        ok = True
        for brand in brands:
            ok &= report_table(console, stored, truth, brand)
        show_first_messages(console, progress)
        elapsed = time.monotonic() - progress.started
        hours = (last - begin).total_seconds() / 3600
        console.write(
            f"\n  {progress.polls} poller runs and {progress.evaluations} evaluations over "
            f"{hours:.1f} simulated hours in {elapsed:.0f} s; {progress.errors} source errors "
            f"and {progress.rate_limited} rate-limit back-offs along the way (see {log_path})\n"
        )
        console.write(
            "  every bucket matches the scenario's ground truth (total, reach, engagement)\n"
            if ok
            else "  MISMATCH against the scenario's ground truth: see the ✗ rows\n"
        )
        act_ok = act_and_review(stack, console, progress, last)
    return 0 if ok and act_ok else 1


def act_and_review(stack: LocalStack, console: TextIO, progress: Progress, last: datetime) -> bool:
    """The Act part on the first acknowledged alert, then its crisis report; True when every
    channel published in the end."""
    if progress.first_acknowledged is None:
        return True
    acknowledged_at, alert_id = progress.first_acknowledged
    with (OUT / "act.log").open("w", encoding="utf-8") as act_log:
        outcome = run_act(
            stack, console, act_log, alert_id=alert_id, at=acknowledged_at + ACT_AFTER_ACK
        )
    write_report(
        stack, console, alert_id=alert_id, now=max(outcome.ended_at or last, last), out=OUT
    )
    return bool(outcome.final_release) and all(
        r["status"] == "published" for r in outcome.final_release.values()
    )


def show_first_messages(console: TextIO, progress: Progress) -> None:
    """The first alert as it arrived: the email in full and the SMS."""
    email = next(
        (m for _, name, m in progress.received if "alerts email" in name and m["subject"]), None
    )
    if email is None:
        console.write("\n  no alert was sent\n")
        return
    console.write(f"\n  The first alert email, as it arrived:\n\n    Subject: {email['subject']}\n")
    for line in email["message"].splitlines():
        console.write(f"    {line}\n")
    if progress.sms:
        _, phone, text = progress.sms[0]
        console.write(f"\n  The first SMS, to {progress._who(phone)} ({len(text)} characters):\n\n")
        for line in text.splitlines():
            console.write(f"    {line}\n")


if __name__ == "__main__":
    sys.exit(main())
