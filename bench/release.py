"""Release: how long the guarded release takes on the local stack, every channel slow.

Every publishing channel's fake answers each publishing request after `--latency`
seconds (400 ms by default; Instagram's two requests, container and publish, take twice
that). Measured, in the order a release does it:

- crisis mode on: until the kill switch is written (a conditional put of the crisis item;
  `measure_crisis_mode` is the hook for the crisis-mode code of act-parking);
- parking: `measure_parking` is the hook for parking 300 scheduled posts across the
  schedulers (act-parking); until then the line says it is not measured;
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
from datetime import UTC, datetime
from typing import Any

from local.fakechannels.publishing import LATENCY
from local.localconfig import localize, read_document
from local.stack import LocalStack
from stormwatch.act.release import publish_everywhere, texts_hash
from stormwatch.channels.base import ChannelContext
from stormwatch.channels.http import HttpClient
from stormwatch.channels.publishers import Publisher, publisher_for
from stormwatch.config import parse_config
from stormwatch.model import iso
from stormwatch.persistence import keys
from stormwatch.persistence.releases import ReleaseStore
from stormwatch.persistence.table import Table

CHANNELS = ("x", "mastodon", "bluesky", "facebook", "linkedin", "instagram")
CARD = "https://cdn.nordwind.example/cards/holding.png"
BY = "arn:aws:iam::123456789012:user/ben"


def _publishers(stack: LocalStack) -> dict[str, Publisher]:
    config = parse_config(localize(read_document(), stack.channels.channel_url))
    world = stack.world
    publishers: dict[str, Publisher] = {}
    for channel in CHANNELS:
        context = ChannelContext(
            config=config.channel(channel),
            brands=config.brands,
            http=HttpClient(channel, timeout=10.0),
            credentials=lambda channel=channel: world.credentials[channel],  # type: ignore[misc]
            now=lambda: datetime.now(UTC),
        )
        publishers[channel] = publisher_for(channel, context, language="de")
    return publishers


def _texts(run: str, channels: Sequence[str]) -> dict[str, str]:
    return {
        channel: f"Wir wissen von der Verspätung und kümmern uns ({run}). Nächstes Update um "
        f"15:00 Uhr. #NordwindAir https://nordwind.example/info"
        for channel in channels
    }


def measure_crisis_mode(table: Table) -> float:
    """Seconds until the kill switch is on: one conditional put of the crisis item."""
    started = time.perf_counter()
    table.call(
        "put_item",
        TableName=table.name,
        Item={**keys.crisis_mode(), "on": {"BOOL": True}, "since": {"S": iso(datetime.now(UTC))}},
        ConditionExpression="attribute_not_exists(pk) OR #on = :off",
        ExpressionAttributeNames={"#on": "on"},
        ExpressionAttributeValues={":off": {"BOOL": False}},
    )
    return time.perf_counter() - started


def measure_parking(stack: LocalStack) -> float | None:
    """Seconds to park 300 scheduled posts across the schedulers; None until parking
    (act-parking) is wired in here."""
    del stack
    return None


def _release(
    statement: str, channels: Sequence[str], publishers: dict[str, Publisher], store: Any
) -> float:
    texts = _texts(statement, channels)
    started = time.perf_counter()
    report = publish_everywhere(
        statement,
        texts,
        texts_hash(texts),
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
        parking = measure_parking(stack)
        if parking is None:
            print("park 300 scheduled posts: not measured here (parking is act-parking's)")
        else:
            print(f"park 300 scheduled posts: {parking:.2f} s")

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
