"""Act's scheduled-post parts of the channels' APIs (Mastodon's scheduled statuses, a
Facebook Page's scheduled posts) and Hootsuite, a service of its own; `seed_all` fills
them with scheduled posts for tests, the demo and the benchmark."""

from __future__ import annotations

from datetime import datetime

from local.fakechannels.world import World


def seed_all(world: World, per_scheduler: int, now: datetime) -> dict[str, list[str]]:
    """`per_scheduler` posts waiting in each fake scheduler; their ids by scheduler."""
    from local.fakechannels.scheduling import facebook, hootsuite, mastodon

    return {
        "mastodon": mastodon.seed(world, per_scheduler, now),
        "facebook": facebook.seed(world, per_scheduler, now),
        "hootsuite": hootsuite.seed(world, per_scheduler, now),
    }
