"""Ingest: 100,000 mentions through the poll path, in memory and end to end.

The mentions are the scenario's, on X at high volume, rendered by the X fake into real
API v2 answers (raw JSON bytes, pages of 100). The replay runs the production path on
each page: JSON decoding and the X adapter's normalisation, language, sentiment (the
offline analyzer), brand matching, bucket aggregation and the commit (transactions with
conditional puts, bucket ADDs and the cursor), through `poll_channel`.

- in memory: the store talks to a DynamoDB client that accepts every call at once, so
  the figure is our own code's speed;
- end to end: the same against the local stack (moto, table from template.yaml).

DynamoDB requests and write units per 1,000 mentions are counted from the requests the
store sends (write units by DynamoDB's rule: 1 per started KB of item, twice that inside
a transaction). Last line: `ingest: N mentions/s` (in memory).

    python -m bench.ingest [--count 100000] [--e2e-count 100000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.recording import RecordingClient
from local.fakechannels import x as x_fake
from local.localconfig import read_document
from local.scenario import Post, build_scenario
from stormwatch.channels.base import Cursor, Page
from stormwatch.channels.x import _chain_page
from stormwatch.config import Config, parse_config
from stormwatch.deadline import Deadline
from stormwatch.listen.poll import poll_channel
from stormwatch.listen.scoring import MentionScorer
from stormwatch.listen.sentiment import OfflineAnalyzer
from stormwatch.persistence.health import HealthLog
from stormwatch.persistence.mentions import MentionLedger
from stormwatch.persistence.table import Table

PAGE_SIZE = 100
TWEET_FIELDS = frozenset({"created_at", "lang", "author_id", "public_metrics"})
USER_FIELDS = frozenset({"username", "public_metrics"})


def rendered_pages(count: int) -> tuple[list[bytes], datetime]:
    """`count` X posts as raw recent-search answers, newest first, 100 per page."""
    # The scenario's X posts at volume 1, scaled up to at least `count` and trimmed.
    per_volume = len(build_scenario(volume=1.0, channels=("x",)).posts)
    volume = count / per_volume * 1.05
    posts: list[Post] = build_scenario(volume=volume, channels=("x",)).posts
    while len(posts) < count:
        volume *= 1.05 * count / len(posts)
        posts = build_scenario(volume=volume, channels=("x",)).posts
    posts = posts[:count]
    posts.sort(key=x_fake.post_id, reverse=True)
    pages = []
    for start in range(0, len(posts), PAGE_SIZE):
        chunk = posts[start : start + PAGE_SIZE]
        body = {
            "data": [x_fake._render_post(post, TWEET_FIELDS) for post in chunk],
            "includes": {"users": x_fake._render_users(chunk, USER_FIELDS)},
            "meta": {
                "newest_id": x_fake.mention_id(chunk[0]),
                "oldest_id": x_fake.mention_id(chunk[-1]),
                "result_count": len(chunk),
                **({"next_token": f"t{start}"} if start + PAGE_SIZE < len(posts) else {}),
            },
        }
        pages.append(json.dumps(body, ensure_ascii=False).encode())
    return pages, max(post.created_at for post in posts)


@dataclass
class ReplaySource:
    """The pages of one long recent-search chain, decoded and normalised as the adapter does."""

    pages_raw: list[bytes]
    channel: str = "x"
    key: str = "search:nordwind-air"

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        for index, raw in enumerate(self.pages_raw):
            chain_page, _ = _chain_page(json.loads(raw))
            mentions = [item.mention for item in chain_page.items if item.mention]
            yield Page(mentions, {"page": index + 1})


class AcceptingDynamoDB:
    """A DynamoDB client that accepts every call at once: the store with no database."""

    def query(self, **_: Any) -> dict[str, Any]:
        return {"Items": []}

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        return {}

    def update_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def batch_write_item(self, **_: Any) -> dict[str, Any]:
        return {}


def _config() -> Config:
    document = read_document()
    document["channels"]["x"]["max_pages_per_run"] = 1000
    return parse_config(document)


def replay(pages: list[bytes], client: Any, table: str, newest: datetime) -> tuple[float, int]:
    config = _config()
    store = Table(client, table)
    scorer = MentionScorer(config, OfflineAnalyzer())
    started = time.perf_counter()
    report = poll_channel(
        "x",
        [ReplaySource(pages)],
        MentionLedger(store),
        HealthLog(store),
        scorer,
        config,
        Deadline(3600),
        lambda: newest + timedelta(minutes=5),
    )
    elapsed = time.perf_counter() - started
    return elapsed, report.stored


def _figures(label: str, mentions: int, seconds: float, client: RecordingClient) -> None:
    print(
        f"{label:<38} {mentions:>7} mentions in {seconds:6.1f} s = "
        f"{mentions / seconds:8.0f} mentions/s; per 1,000 mentions: "
        f"{1000 * client.requests / mentions:5.1f} requests, "
        f"{1000 * client.write_units / mentions:6.0f} write units"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--e2e-count", type=int, default=None)
    args = parser.parse_args(argv)
    pages, newest = rendered_pages(args.count)
    mentions = sum(len(json.loads(page)["data"]) for page in pages)
    print(
        f"replaying {mentions} X mentions in {len(pages)} pages of {PAGE_SIZE} "
        "(JSON -> adapter -> language -> sentiment -> brands -> buckets -> commit)"
    )

    in_memory = RecordingClient(AcceptingDynamoDB())
    seconds, stored = replay(pages, in_memory, "stormwatch-bench", newest)
    _figures("in memory (our code):", stored, seconds, in_memory)

    e2e_pages = pages[: math.ceil((args.e2e_count or mentions) / PAGE_SIZE)]
    from local.stack import LocalStack

    with open(os.devnull, "w") as quiet, LocalStack(log=quiet) as stack:
        local = RecordingClient(stack.client("dynamodb"))
        e2e_seconds, e2e_stored = replay(e2e_pages, local, stack.outputs["TableName"], newest)
        # ...and counted into their buckets from the table's stream, as Lambda would.
        assert stack.streams is not None
        counting = time.perf_counter()
        stack.streams.deliver()
        e2e_seconds += time.perf_counter() - counting
        _figures("end to end (local stack, moto):", e2e_stored, e2e_seconds, local)

    print(f"ingest: {stored / seconds:.0f} mentions/s")


if __name__ == "__main__":
    main()
