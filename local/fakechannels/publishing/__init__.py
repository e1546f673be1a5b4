"""The parts of each channel's API that publish a post (Act's release), and what they
share: the posts each fake stored, a latency per channel (the release benchmark) and
faults that strike *after* the post was stored (a timeout or 5xx the client cannot tell
from one before it).

Knobs, in ``world.channel_state(<channel>)``:
- `LATENCY`: seconds every publishing request waits before it is answered;
- `AFTER_STORE`: a list of fault kinds, taken one per post that was stored:
  ``"slow:<seconds>"`` (answer late: past the client's timeout) or ``"status:<code>"``
  (answer with the channel's error for that status).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Response

from local.fakechannels.world import World

LATENCY = "publish_latency"
AFTER_STORE = "publish_after_store"
PUBLISHED = "published"


def wait(world: World, channel: str) -> None:
    seconds = float(world.channel_state(channel).get(LATENCY, 0.0))
    if seconds > 0:
        time.sleep(seconds)


def published(world: World, channel: str) -> list[dict[str, Any]]:
    """The posts the channel's publishing fake stored, oldest first (a live list: hold
    `world.lock` to change it)."""
    with world.lock:
        posts: list[dict[str, Any]] = world.channel_state(channel).setdefault(PUBLISHED, [])
    return posts


def failure_after_store(world: World, channel: str) -> int | None:
    """Strike the fault armed for after a store, if any: sleep for ``slow``, or return the
    status a ``status`` fault answers with (None: answer normally)."""
    with world.lock:
        armed: list[str] = world.channel_state(channel).get(AFTER_STORE, [])
        fault = armed.pop(0) if armed else None
    if fault is None:
        return None
    kind, _, argument = fault.partition(":")
    if kind == "slow":
        time.sleep(float(argument))
        return None
    if kind == "status":
        return int(argument)
    raise ValueError(f"unknown after-store fault {fault!r}")


def after_store(
    world: World, channel: str, answer: Response, error: Callable[[int], Response]
) -> Response:
    """`answer`, unless a fault is armed for after the store: then a late or failed one."""
    status = failure_after_store(world, channel)
    return answer if status is None else error(status)
