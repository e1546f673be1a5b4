"""A pytest plugin that runs the whole session with the clock moved, to show that no test
depends on today's date:

    SHIFT_CLOCK=2028-02-29T12:00:00+00:00 .venv/bin/python -m pytest -p tests.shift_clock

The clock keeps ticking from there (tests that travel in time still do, from it). Not
loaded unless asked for.
"""

from __future__ import annotations

import os
from datetime import datetime

import pytest
import time_machine

_traveller: list[time_machine.travel] = []


def pytest_configure(config: pytest.Config) -> None:
    moment = datetime.fromisoformat(os.environ["SHIFT_CLOCK"])
    if moment.tzinfo is None:
        raise pytest.UsageError("SHIFT_CLOCK needs a time zone, e.g. 2028-02-29T12:00:00+00:00")
    traveller = time_machine.travel(moment, tick=True)
    traveller.start()
    _traveller.append(traveller)


def pytest_unconfigure(config: pytest.Config) -> None:
    while _traveller:
        _traveller.pop().stop()
