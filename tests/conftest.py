"""Shared fixtures: the scenario, the fake channel server, and channel contexts wired to it."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from local.fakechannels.registry import available_channels, fake_module
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import World
from local.localconfig import localize, read_document
from local.scenario import Scenario, build_scenario
from stormwatch.channels.base import ChannelContext
from stormwatch.channels.http import HttpClient
from stormwatch.config import Config, parse_config
from stormwatch.deadline import Deadline


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


@pytest.fixture
def fake_server(world: World) -> Iterator[FakeChannelServer]:
    server = FakeChannelServer(
        world, [fake_module(ch).make_fake() for ch in available_channels()]
    ).start()
    yield server
    server.stop()


@pytest.fixture
def local_config(fake_server: FakeChannelServer) -> Config:
    return parse_config(localize(read_document(), fake_server.channel_url))


ContextFactory = Callable[..., ChannelContext]


@pytest.fixture
def channel_context(local_config: Config, world: World) -> ContextFactory:
    """Build the context an adapter gets in Lambda, pointed at the fake server."""

    def make(
        channel: str,
        *,
        deadline: Deadline | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        config: Config | None = None,
    ) -> ChannelContext:
        cfg = config or local_config
        channel_config = cfg.channel(channel)
        return ChannelContext(
            config=channel_config,
            brands=cfg.brands,
            http=HttpClient(
                channel, timeout=channel_config.timeout_seconds, deadline=deadline, now=now
            ),
            credentials=lambda: world.credentials[channel],
            now=now,
        )

    return make
