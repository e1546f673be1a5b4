"""Shared fixtures: the scenario, the fake channel server, and channel contexts wired to it."""

from __future__ import annotations

import gc
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import settings

from local.fakechannels.registry import all_fakes, available_channels, fake_module
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import World
from local.scenario import Scenario, build_scenario
from stormwatch.channels.base import ChannelContext
from stormwatch.config import Config
from stormwatch.deadline import Deadline
from tests.helpers import DEV_SHARE, HYPOTHESIS_PROFILE, context_for, example_config

# Properties without a count of their own try Hypothesis's 100 examples under `ci`, a fifth
# under `dev`; those with one scale it with `tests.helpers.examples`. No deadline: the
# machines that run these are shared, and a slow example is not a wrong one.
settings.register_profile("ci", max_examples=100, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=100 // DEV_SHARE, deadline=None)
settings.load_profile(HYPOTHESIS_PROFILE)


# Unit modules that take seconds (dictionaries to load, Hypothesis over every template,
# every publisher's faults): see `pytest_collection_modifyitems`.
SLOW_UNIT_MODULES = frozenset(
    {"test_spelling.py", "test_messages.py", "test_publishers.py", "test_detector.py"}
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end tests first (the fault injection's fixture, the longest piece of
    work, takes a worker at once), then the browser's, then the modules that take seconds
    (those of tests/integration start a local stack), then the rest. Under xdist
    (`--dist loadscope --no-loadscope-reorder`) a module or class is one worker's at a
    time, in this order: a long one taken last would keep its worker busy after the
    other ran out of work (the spelling tests: up to 17 s of one worker alone on a busy
    day); in this order the last ones take a second or two."""

    def rank(item: pytest.Item) -> int:
        folder = item.path.parent.name
        if folder in ("e2e", "browser"):
            return 0 if folder == "e2e" else 1
        if folder == "integration" or (folder == "unit" and item.path.name in SLOW_UNIT_MODULES):
            return 2
        return 3

    items.sort(key=rank)


# A full garbage collection walks every object alive: in a test process, millions (moto's
# state of a local stack, the spelling dictionaries, the scenarios), nearly none garbage.
# Python runs one after every 10 collections of the middle generation (when the old
# objects grew by a quarter since the last): 10-14 per worker, a second each, a tenth of
# the run's CPU. After every 100 here; cycles are still collected, and pytest's last
# collection (`unraisableexception`) still sees every one before the session ends.
_young, _middle, _ = gc.get_threshold()
gc.set_threshold(_young, _middle, 100)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure() -> None:
    """Python's last garbage collection at exit walks every object still alive: with the
    spelling dictionaries and the local stacks loaded, that kept each test worker (and so
    the run) seconds after its last test. Frozen objects are not walked, only freed."""
    gc.freeze()


@pytest.fixture(autouse=True)
def _no_network_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may talk to 127.0.0.1 only; anything else is a bug in the test or the code."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        # Unix sockets (paths) are local too; anything with a host name must be loopback.
        remote = isinstance(host, str) and not host.startswith("/")
        if remote and host not in ("127.0.0.1", "localhost", "::1"):
            raise RuntimeError(f"test tried to reach {host}: only 127.0.0.1 is allowed")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    """The demo scenario at a tenth of its volume: every channel, a quiet day and a storm."""
    return build_scenario(volume=0.1, seed=11)


@pytest.fixture
def world(small_scenario: Scenario) -> World:
    return World(
        scenario=small_scenario,
        credentials={ch: dict(fake_module(ch).CREDENTIALS) for ch in available_channels()},
    )


@pytest.fixture(scope="session")
def _running_server() -> Iterator[FakeChannelServer]:
    """One server for the whole session, because stopping one takes half a second (its
    poll interval), which would dominate the channel tests; each test swaps its own world
    (faults, budgets, recorded requests) in through `fake_server`."""
    placeholder = World(scenario=build_scenario(volume=0.01, seed=0))
    server = FakeChannelServer(placeholder, all_fakes()).start()
    yield server
    server.stop()


@pytest.fixture
def fake_server(_running_server: FakeChannelServer, world: World) -> FakeChannelServer:
    _running_server.world = world
    return _running_server


@pytest.fixture
def now(small_scenario: Scenario) -> Iterator[datetime]:
    """The whole scenario lies in the past; the clock stands still."""
    moment = small_scenario.end + timedelta(minutes=5)
    with time_machine.travel(moment, tick=False):
        yield moment


@pytest.fixture
def start(small_scenario: Scenario) -> datetime:
    """Where a first poll starts reading: just before the scenario's first post."""
    return small_scenario.start - timedelta(minutes=1)


@pytest.fixture
def local_config(fake_server: FakeChannelServer) -> Config:
    return example_config(fake_server.channel_url)


ConfigFactory = Callable[..., Config]
ContextFactory = Callable[..., ChannelContext]


@pytest.fixture
def config_for(fake_server: FakeChannelServer) -> ConfigFactory:
    """The example configuration with one channel's settings changed (and other brands)."""

    def build(
        channel: str, *, brands: list[dict[str, Any]] | None = None, **settings: Any
    ) -> Config:
        return example_config(fake_server.channel_url, channel, brands=brands, **settings)

    return build


@pytest.fixture
def channel_context(
    local_config: Config, config_for: ConfigFactory, world: World
) -> ContextFactory:
    """Build the context an adapter gets in Lambda, pointed at the fake server; keyword
    settings change the channel's section of the example configuration."""

    def make(
        channel: str,
        *,
        deadline: Deadline | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        config: Config | None = None,
        brands: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ChannelContext:
        if config is None:
            config = (
                config_for(channel, brands=brands, **settings)
                if settings or brands is not None
                else local_config
            )
        return context_for(
            config, channel, lambda: world.credentials[channel], deadline=deadline, now=now
        )

    return make
