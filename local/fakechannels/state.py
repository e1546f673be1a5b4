"""Per-channel state the fakes share the handling of, kept in ``World.channel_state``: a
fixed window of calls against a budget, and queued channel-specific bad answers."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from local.fakechannels.world import World


@dataclass(frozen=True, slots=True)
class CallWindow:
    """The window a call was counted in: its calls so far (this one included), the budget,
    when it started and how long it lasts."""

    calls: int
    budget: int
    started: datetime
    length: timedelta


def count_call(
    world: World,
    channel: str,
    now: datetime,
    *,
    default_budget: int,
    default_window_seconds: int,
) -> CallWindow:
    """Count one call at `now` against the channel's ``budget`` calls per ``window_seconds``
    (the defaults unless a test set them in the channel's state); a window starts with the
    first call after the previous one ended."""
    with world.lock:
        state = world.channel_state(channel)
        budget = int(state.setdefault("budget", default_budget))
        length = timedelta(seconds=int(state.setdefault("window_seconds", default_window_seconds)))
        started = state.get("window_start")
        if started is None or not started <= now < started + length:
            state["window_start"], state["calls"] = now, 0
            started = now
        state["calls"] = calls = int(state.get("calls", 0)) + 1
    return CallWindow(calls, budget, started, length)


def queue_faults(world: World, channel: str, kind: str, times: int, known: Collection[str]) -> None:
    """Arm a channel-specific bad answer, one of `known`, for the next `times` requests."""
    if kind not in known:
        raise ValueError(f"unknown {channel} fault {kind!r}")
    with world.lock:
        world.channel_state(channel).setdefault("faults", []).extend([kind] * times)


def take_fault(world: World, channel: str) -> str | None:
    """The next armed channel-specific bad answer, if any (it is used up)."""
    with world.lock:
        faults: list[str] = world.channel_state(channel).setdefault("faults", [])
        return faults.pop(0) if faults else None
