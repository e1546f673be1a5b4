"""Storm at scale: one brand gets a flood of X mentions in an hour; do the pollers keep up,
is anything lost or counted twice, and does the evaluator stay within its timeout?

Part 1, the poller. The fake X (recent search, `local.fakechannels.x`: its validation,
paging tokens and rate-limit headers) serves `--mentions` posts about Nordwind Air spread
evenly over one hour. The posts are made on demand from their index (a pool of the
scenario's storm texts, ids from their time), so a million never sit in memory, and a
page is found by arithmetic instead of a scan. The poll handler runs on the template's
schedule for X (PollRate) on a simulated clock, each run with the template's Timeout as
its budget (the Lambda context's remaining time, real time), until the backlog is read.
Each run's wall time, pages and outcome are shown; at the end the stored bucket counters
are checked against the generator's ground truth per 5-minute bucket: nothing lost,
nothing counted twice.

Part 2, the evaluator: 50 brands on 8 channels (bench.evaluate's brands, whose detectors
learned 14 days), the first of them in the storm (the flood's counts in its X buckets),
evaluated by the handler once a minute for 5 minutes on the local stack, each run timed
against the template's Timeout.

A million mentions through moto take long; the default is a scaled slice (100,000 in the
hour). What is measured and what is extrapolated to a million is printed apart.
Last line: `storm-scale: N mentions/s per poller run`.

    python -m bench.storm_scale [--mentions 100000] [--max-pages N] [--brands 50]
"""

from __future__ import annotations

import argparse
import bisect
import os
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from local.fakechannels import x as x_fake
from local.fakechannels.world import World
from local.scenario import STORM_BRAND, Post, Scenario, build_scenario
from stormwatch.model import bucket_start

HOUR = timedelta(hours=1)
# X's published limit for app-only recent search (the fake's docstring): 450 requests per
# 15 minutes, 100 posts each.
X_REQUESTS_PER_15_MINUTES = 450
X_PAGE = 100


class StormPosts:
    """`count` posts about the storm brand, evenly over [start, start + 1 h), made from
    their index: post i's time, id and text follow from i alone."""

    def __init__(self, count: int, start: datetime, pool: Sequence[Post]) -> None:
        self.count = count
        self.start = start
        self.pool = list(pool)
        self.step = HOUR / count

    def created_at(self, index: int) -> datetime:
        return self.start + self.step * index

    def post(self, index: int) -> Post:
        model = self.pool[index % len(self.pool)]
        return replace(model, seq=index + 1, created_at=self.created_at(index))

    def id_of(self, index: int) -> int:
        return x_fake.post_id(self.post(index))

    def first_after(self, identifier: int) -> int:
        """The first index whose id is above `identifier` (ids grow with the index)."""
        return bisect.bisect_right(range(self.count), identifier, key=self.id_of)

    def visible(self, now: datetime) -> int:
        """How many exist by `now`."""
        if now < self.start:
            return 0
        return min(self.count, int((now - self.start) / self.step) + 1)

    def truth(self, bucket_minutes: int) -> Counter[datetime]:
        counts: Counter[datetime] = Counter()
        for index in range(self.count):
            counts[bucket_start(self.created_at(index), bucket_minutes)] += 1
        return counts


class StormX(x_fake.XFake):
    """The fake X, serving the storm for the storm brand's search from `StormPosts`."""

    def __init__(self, storm: StormPosts) -> None:
        super().__init__()
        self.storm = storm

    def search_recent(self, world: World, request: Any) -> Any:
        query = request.args.get("query", "")

        def select(listing: Any) -> list[Post]:
            if "Nordwind" not in query:
                return []
            storm = self.storm
            high = storm.visible(world.now())
            upper = listing.below_id if listing.below_id is not None else listing.until_id
            if upper is not None:
                high = min(high, storm.first_after(upper - 1))
            low = storm.first_after(listing.since_id) if listing.since_id is not None else 0
            if listing.start_time is not None:
                low = max(low, storm.first_after(_first_id_at(listing.start_time) - 1))
            # One more than a page, oldest first: the fake's own cycle issues the next token.
            return [storm.post(i) for i in range(max(low, high - listing.size - 1), high)]

        return self._serve(world, request, "search", x_fake.SEARCH_PARAMS, (10, 100), select)


def _first_id_at(moment: datetime) -> int:
    millis = (moment - x_fake.X_EPOCH) // timedelta(milliseconds=1)
    return millis << 22


def _serve_storm(stack: Any, fake: StormX) -> None:
    """The stack's channel server with `fake` in place of X's listening routes (X's
    publishing routes stay as they were)."""
    from werkzeug.routing import Map, Submount

    from local.fakechannels.registry import extension_rules

    server = stack.channels
    server.fakes["x"] = fake
    server.url_map = Map(
        [
            Submount(
                f"/{name}",
                [*extension_rules("x"), *fake.rules()] if name == "x" else list(other.rules()),
            )
            for name, other in server.fakes.items()
        ],
        strict_slashes=False,
    )


def storm_pool(start: datetime) -> list[Post]:
    scenario = build_scenario(start=start, hours=4, storm_offset=HOUR, channels=("x",))
    return [post for post in scenario.posts if post.brands == (STORM_BRAND,)][:500]


@dataclass
class Run:
    at: datetime
    wall: float
    stored: int
    pages: int
    outcome: str


def poll_storm(
    mentions: int, max_pages: int | None, first_run_after: timedelta
) -> tuple[list[Run], int, Counter[datetime], Counter[datetime], float, int]:
    import time_machine

    from local.demo import _scheduled_input, schedule_firings
    from local.localconfig import localize, read_document
    from local.stack import LocalStack
    from stormwatch.persistence.buckets import BucketStore
    from stormwatch.persistence.table import Table

    # Relative to the run's clock: the storm hour ended a day ago.
    start = bucket_start(datetime.now(UTC), 60) - timedelta(days=1)
    storm = StormPosts(mentions, start, storm_pool(start - timedelta(hours=2)))
    quiet = Scenario(start, start + HOUR, start, [])
    runs: list[Run] = []
    with open(os.devnull, "w") as log, LocalStack(scenario=quiet, log=log) as stack:
        _serve_storm(stack, StormX(storm))
        document = localize(read_document(), stack.channels.channel_url)
        document["channels"]["x"].pop("account_id", None)
        if max_pages is not None:
            document["channels"]["x"]["max_pages_per_run"] = max_pages
        stack.config_document = document
        stack.reset()
        config = stack.config()
        assert stack.deployment is not None
        function = stack.deployment.template["Resources"]["PollMentionsFunction"]
        timeout = float(function["Properties"].get("Timeout", 3))
        (firing,) = [f for f in schedule_firings(stack) if f.event.get("channel") == "x"]
        moment = start + max(first_run_after, firing.every) - firing.every
        # A run after a finished chain starts a new one at the newest post: the backlog is
        # read when a chain begun after the storm hour is finished. (A chain begun earlier
        # ends at its own top: the posts after it are the next chain's.)
        chain_began = moment + firing.every
        with time_machine.travel(start, tick=False) as clock:
            while True:
                moment += firing.every
                clock.move_to(moment)
                began = time.perf_counter()
                result = stack.invoke(
                    firing.function, _scheduled_input(firing.event, moment), timeout
                )
                wall = time.perf_counter() - began
                outcome = result["sources"].get(f"search:{STORM_BRAND}", "?")
                runs.append(Run(moment, wall, int(result["stored"]), 0, outcome))
                if chain_began >= start + HOUR and outcome == "done":
                    break
                if outcome == "done":
                    chain_began = moment + firing.every
                if len(runs) > 2000:
                    raise SystemExit("the poller did not catch up in 2,000 runs")
        store = BucketStore(Table(stack.client("dynamodb"), stack.outputs["TableName"]))
        series = store.read(STORM_BRAND, start - HOUR, start + 2 * HOUR)
        stored = Counter({when: counts.total for when, counts in series.get("x", {}).items()})
        truth = storm.truth(config.bucket_minutes)
        pages = config.channel("x").max_pages_per_run
    return runs, pages, stored, truth, timeout, mentions


def evaluate_storm(brands: int, mentions: int, minutes: int) -> tuple[list[float], float, Any]:
    import random

    import time_machine

    from bench.evaluate import RECENT, document, history, learned_states
    from local.demo import _scheduled_input
    from local.stack import LocalStack
    from stormwatch.config import parse_config
    from stormwatch.model import BucketCounts, BucketKey
    from stormwatch.persistence.buckets import BucketStore
    from stormwatch.persistence.table import Table
    from stormwatch.persistence.warn_state import BrandState, WarnStateStore
    from stormwatch.warn.lifecycle import BrandLifecycle

    t0 = bucket_start(datetime.now(UTC), 5) - timedelta(days=1)
    layout = document(brands)
    walls: list[float] = []
    results: list[Any] = []
    with open(os.devnull, "w") as log, LocalStack(config_document=layout, log=log) as stack:
        config = parse_config(layout, now=t0)
        ids = [brand.id for brand in config.brands]
        setup = Table(stack.client("dynamodb"), stack.outputs["TableName"])
        detectors = learned_states(config, t0, seed=1)
        lifecycle = BrandLifecycle(ids[0], config.alerts).to_state()
        for brand in ids:
            WarnStateStore(setup).save_brand(brand, BrandState(detectors, lifecycle, 0), [], t0)
        buckets = history(ids, t0 - RECENT, t0 + timedelta(minutes=minutes), seed=2)
        # The flood on X for the first brand: the storm hour's share per 5-minute bucket,
        # most of it negative.
        rng = random.Random(5)
        per_bucket = mentions // 12
        moment = t0 - timedelta(minutes=30)
        while moment < t0 + timedelta(minutes=minutes):
            total = per_bucket + rng.randrange(max(1, per_bucket // 10))
            negative = total * 7 // 10
            buckets[BucketKey(ids[0], "x", moment)] = BucketCounts(
                total=total, negative=negative, neutral=total - negative
            )
            moment += timedelta(minutes=5)
        BucketStore(setup).import_history(buckets)
        assert stack.deployment is not None
        function = stack.deployment.template["Resources"]["EvaluateAlertsFunction"]
        timeout = float(function["Properties"].get("Timeout", 3))
        with time_machine.travel(t0, tick=False) as clock:
            for minute in range(1, minutes + 1):
                now = t0 + timedelta(minutes=minute)
                clock.move_to(now)
                event = _scheduled_input({"scheduled_time": "<aws.scheduler.scheduled-time>"}, now)
                began = time.perf_counter()
                results.append(stack.invoke("EvaluateAlertsFunction", event, timeout))
                walls.append(time.perf_counter() - began)
        received = sum(len(messages) for messages in stack.received().values())
        return walls, timeout, (results, received, len(stack.sms_sent()))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mentions", type=int, default=100_000, help="in the storm hour")
    parser.add_argument("--max-pages", type=int, default=None, help="X's max_pages_per_run")
    parser.add_argument("--brands", type=int, default=50)
    parser.add_argument("--evaluations", type=int, default=5, help="0: the poller only")
    parser.add_argument(
        "--first-run-after",
        type=int,
        default=0,
        help="minutes of outage after the storm began before the first poll",
    )
    args = parser.parse_args(argv)
    if args.mentions < 1000 or args.mentions > 4_000_000:
        raise SystemExit("--mentions must be between 1,000 and 4,000,000")
    if args.max_pages is not None and not 1 <= args.max_pages <= 1000:
        raise SystemExit("--max-pages must be between 1 and 1000 (the config's bounds)")

    if args.evaluations < 0 or args.first_run_after < 0:
        raise SystemExit("--evaluations and --first-run-after cannot be negative")
    late = timedelta(minutes=args.first_run_after)
    runs, max_pages, stored, truth, timeout, mentions = poll_storm(
        args.mentions, args.max_pages, late
    )
    every = (runs[1].at - runs[0].at) if len(runs) > 1 else timedelta(minutes=2)
    began = runs[0].at - max(every, late)
    print(
        f"poller: {mentions:,} X mentions of {STORM_BRAND} in one hour; a run every "
        f"{every.total_seconds() / 60:g} min, budget {timeout:g} s (template Timeout), "
        f"max_pages_per_run {max_pages} (pages of {X_PAGE})"
        + (f"; the first run {args.first_run_after} min late" if late else "")
    )
    previous = ""
    for number, run in enumerate(runs, 1):
        if number <= 3 or number > len(runs) - 3 or run.outcome != previous:
            print(
                f"  run {number:>3} at +{(run.at - began).total_seconds() / 60:>4.0f}"
                f" min: {run.stored:>6,} stored in {run.wall:5.1f} s ({run.outcome})"
            )
        elif runs[number - 2].outcome == previous and number == 4:
            print("  ...")
        previous = run.outcome
    slowest = max(run.wall for run in runs)
    busy = [run for run in runs if run.outcome == "more"]
    per_run = statistics.median([run.stored for run in busy or runs])
    working = [run for run in runs if run.stored] or runs
    rate = sum(r.stored for r in working) / sum(r.wall for r in working)
    caught_up = runs[-1].at - began
    lost = sum(max(0, truth[b] - stored[b]) for b in truth)
    twice = sum(max(0, stored[b] - truth[b]) for b in stored)
    print(
        f"  measured: {len(runs)} runs; slowest {slowest:.1f} s of {timeout:g} s; "
        f"{per_run:,.0f} mentions per {'busy ' if busy else ''}run (median); "
        f"{rate:,.0f} mentions/s on moto; backlog read "
        f"{caught_up.total_seconds() / 3600:.1f} h after the storm began"
    )
    print(
        f"  checked against the generator, 5-minute buckets: {sum(stored.values()):,} counted "
        f"of {sum(truth.values()):,}; lost {lost}, counted twice {twice}"
    )
    if lost or twice:
        raise SystemExit("the stored counts differ from the storm's ground truth")

    # Extrapolated, not measured: a million at this configuration and X's published quota.
    million = 1_000_000
    runs_per_hour = HOUR / every
    config_hourly = max_pages * X_PAGE * runs_per_hour
    quota_hourly = X_REQUESTS_PER_15_MINUTES * 4 * X_PAGE
    limit = min(config_hourly, quota_hourly)
    hours = million / limit
    print(
        f"extrapolated to {million:,} in the hour: the poller reads at most "
        f"{config_hourly:,.0f}/h (max_pages_per_run x {X_PAGE} x {runs_per_hour:g} runs), X's "
        f"recent search at most {quota_hourly:,.0f}/h ({X_REQUESTS_PER_15_MINUTES} requests per "
        f"15 min); the backlog is read {hours:.1f} h after the storm began, "
        + ("within" if hours < 7 * 24 else "BEYOND")
        + f" recent search's 7 days; a run that reads its whole budget on moto stores "
        f"{rate * (timeout - 5):,.0f}"
    )

    if not args.evaluations:
        print(f"storm-scale: {rate:,.0f} mentions/s per poller run")
        return
    walls, eval_timeout, (results, received, sms) = evaluate_storm(
        args.brands, mentions, args.evaluations
    )
    dispatched = sum(len(result.get("dispatched", [])) for result in results)
    deferred = sum(len(result.get("deferred", [])) for result in results)
    print(
        f"evaluator: {args.brands} brands on 8 channels, the first in the storm; "
        f"{len(walls)} runs by the handler: median {statistics.median(walls):.2f} s, slowest "
        f"{max(walls):.2f} s of {eval_timeout:g} s (template Timeout); {dispatched} alerts "
        f"dispatched, {deferred} brands deferred, {received} email/topic deliveries, {sms} SMS"
    )
    print(f"storm-scale: {rate:,.0f} mentions/s per poller run")


if __name__ == "__main__":
    main()
