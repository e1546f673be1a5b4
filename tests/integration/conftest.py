"""A local stack (moto + the template's resources + fake channels) shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.scenario import build_scenario
from local.stack import LocalStack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(scenario=build_scenario(volume=0.05, seed=3)) as running:
        yield running
