"""Release: how long the guarded release takes on the local stack, every channel slow.

Every publishing channel's fake answers each publishing request after `--latency`
seconds (400 ms by default; Instagram's two requests, container and publish, take twice
that). Measured, in the order a release does it:

- crisis mode on: until the kill switch is written (`CrisisStore.switch_on`);
- parking: 300 scheduled posts, 75 in each of Mastodon, Facebook, Hootsuite and our own
  queue, saved, cancelled and marked parked (`park_all`); the scheduler fakes answer at
  once, so this is stormwatch's own cost and DynamoDB's (moto);
- the release: `publish_everywhere` on every channel against DynamoDB (moto) and the
  fakes, its wall time over the slowest channel's own time (that channel published
  alone, measured the same way). One after another would be the sum of the channels;
  in parallel it is close to 1.

Last line: `release: R x slowest channel`.

    python -m bench.release [--latency 0.4]

The issue speaks of eight channels; six of stormwatch's channels can be posted on
(Reddit and RSS are read only), so the release here covers those six.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from local.fakechannels.publishing import LATENCY
from local.localconfig import localize, read_document
from local.stack import LocalStack
from stormwatch.act.release import publish_everywhere
from stormwatch.act.statements import statement_hash
from stormwatch.channels.base import ChannelContext
from stormwatch.channels.http import HttpClient
from stormwatch.channels.publishers import Publisher, publisher_for
from stormwatch.config import Config, parse_config
from stormwatch.persistence.crisis import Actor, CrisisStore
from stormwatch.persistence.releases import ReleaseStore
from stormwatch.persistence.table import Table

CHANNELS = ("x", "mastodon", "bluesky", "facebook", "linkedin", "instagram")
CARD = "https://cdn.nordwind.example/cards/holding.png"
BY = "arn:aws:iam::123456789012:user/ben"


def _context(stack: LocalStack, config: Config, channel: str) -> ChannelContext:
    world = stack.world
    return ChannelContext(
        config=config.channel(channel),
        brands=config.brands,
        http=HttpClient(channel, timeout=10.0),
        credentials=lambda: world.credentials[channel],
        now=lambda: datetime.now(UTC),
    )


def _publishers(stack: LocalStack) -> dict[str, Publisher]:
    config = parse_config(localize(read_document(), stack.channels.channel_url))
    return {
        channel: publisher_for(channel, _context(stack, config, channel), language="de")
        for channel in CHANNELS
    }


def _texts(run: str, channels: Sequence[str]) -> dict[str, str]:
    return {
        channel: f"Wir wissen von der Verspätung und kümmern uns ({run}). Nächstes Update um "
        f"15:00 Uhr. #NordwindAir https://nordwind.example/info"
        for channel in channels
    }


def measure_crisis_mode(table: Table) -> float:
    """Seconds until the kill switch is on (`CrisisStore.switch_on`: one conditional put)."""
    started = time.perf_counter()
    CrisisStore(table).switch_on(
        reason="benchmark", by=Actor(BY, "ben"), now=datetime.now(UTC), release_id="bench"
    )
    return time.perf_counter() - started


def measure_parking(stack: LocalStack, table: Table, per_scheduler: int = 75) -> float:
    """Seconds to park `per_scheduler` posts in each of the four schedulers (Mastodon,
    Facebook, Hootsuite, our queue): each saved, then cancelled, then marked parked."""
    from local.fakechannels.scheduling import hootsuite as fake_hootsuite
    from local.fakechannels.scheduling import seed_all
    from stormwatch.act.parking import park_all
    from stormwatch.channels.schedulers.base import Scheduler
    from stormwatch.channels.schedulers.facebook import FacebookScheduler
    from stormwatch.channels.schedulers.hootsuite import HootsuiteScheduler
    from stormwatch.channels.schedulers.mastodon import MastodonScheduler
    from stormwatch.config.act import HootsuiteScheduler as HootsuiteSettings
    from stormwatch.persistence.parked import ParkedStore

    config = parse_config(localize(read_document(), stack.channels.channel_url))
    now = datetime.now(UTC)
    seed_all(stack.world, per_scheduler, now)
    queue = stack.queue_scheduler()
    for number in range(per_scheduler):
        queue.enqueue(f"bench-{number}", "x", f"Tip {number}", now + timedelta(hours=2 + number))
    schedulers: list[Scheduler] = [
        MastodonScheduler(_context(stack, config, "mastodon")),
        FacebookScheduler(_context(stack, config, "facebook")),
        HootsuiteScheduler(
            HootsuiteSettings(enabled=True, base_url=stack.channels.channel_url("hootsuite")),
            HttpClient("hootsuite", timeout=10.0),
            lambda: fake_hootsuite.CREDENTIALS,
            lambda: datetime.now(UTC),
        ),
        queue,
    ]
    started = time.perf_counter()
    report = park_all(schedulers, ParkedStore(table), lambda: datetime.now(UTC))
    elapsed = time.perf_counter() - started
    parked = sum(report.counts().values())
    if not report.complete or parked != 4 * per_scheduler:
        raise SystemExit(f"parking did not finish: {report}")
    return elapsed


def _release(
    statement: str, channels: Sequence[str], publishers: dict[str, Publisher], store: Any
) -> float:
    texts = _texts(statement, channels)
    started = time.perf_counter()
    report = publish_everywhere(
        statement,
        texts,
        statement_hash(texts, ""),
        {channel: publishers[channel] for channel in channels},
        store,
        lambda: datetime.now(UTC),
        by=BY,
        image_urls={"instagram": CARD},
    )
    elapsed = time.perf_counter() - started
    if report.outcome != "released":
        raise SystemExit(f"release {statement} ended {report.outcome}: {report.results}")
    return elapsed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.4)
    args = parser.parse_args(argv)
    with open(os.devnull, "w") as quiet, LocalStack(log=quiet) as stack:
        table = Table(stack.client("dynamodb"), stack.outputs["TableName"])
        store = ReleaseStore(table)
        publishers = _publishers(stack)
        for channel in CHANNELS:
            stack.world.channel_state(channel)[LATENCY] = args.latency
        # A first call per channel opens its sessions (Bluesky's login) outside the figures.
        _release("warm-up", CHANNELS, publishers, store)

        crisis = measure_crisis_mode(table)
        print(f"crisis mode on: {crisis * 1000:.0f} ms (target < 100 ms)")
        parking = measure_parking(stack, table)
        print(
            f"park 300 scheduled posts (75 in each of 4 schedulers, answering at once): "
            f"{parking:.2f} s"
        )

        alone = {
            channel: _release(f"alone-{channel}", [channel], publishers, store)
            for channel in CHANNELS
        }
        for channel, seconds in alone.items():
            print(f"  {channel:<10} alone: {seconds * 1000:5.0f} ms")
        together = _release("together", CHANNELS, publishers, store)
        slowest = max(alone.values())
        print(
            f"{len(CHANNELS)} channels together: {together * 1000:.0f} ms; one after another "
            f"would be {sum(alone.values()) * 1000:.0f} ms"
        )
    print(f"release: {together / slowest:.2f} x slowest channel")


if __name__ == "__main__":
    main()
