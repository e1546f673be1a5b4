"""One local stack (moto + the template's resources + fake channels) per test session (per
xdist worker), shared by the integration modules: each module starts from it as deployed
(`LocalStack.reset`: tables empty, configuration and secret as stored at start), which
costs milliseconds where a new moto and a new deployment cost seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.scenario import build_scenario
from local.stack import LocalStack


@pytest.fixture(scope="session")
def _deployed_stack() -> Iterator[LocalStack]:
    # Everything the template can make, the opt-in dashboard included (its body is checked).
    with LocalStack(
        scenario=build_scenario(volume=0.05, seed=3), parameters={"OpsDashboard": "true"}
    ) as running:
        yield running


@pytest.fixture(scope="module")
def stack(_deployed_stack: LocalStack) -> LocalStack:
    from tests.helpers import COUNTING_STACKS

    COUNTING_STACKS[:] = [_deployed_stack]
    return _deployed_stack.reset()
