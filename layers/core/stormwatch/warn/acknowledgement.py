"""Acknowledging an alert: somebody took it, so its escalation stops.

Shared by the command line (`stormwatch ack`, which writes the table with the operator's
own credentials) and the Act function's ``POST /alerts/{id}/acknowledge`` (the console's
button), so both follow one rule: only the brand's open alert can be acknowledged, the
first acknowledgement stands, and a save that meets the evaluator's is decided again.
"""

from __future__ import annotations

import re
from datetime import datetime

from stormwatch.config import AlertSettings
from stormwatch.errors import StoreConflict
from stormwatch.persistence.warn_state import BrandState, WarnStateStore
from stormwatch.warn.lifecycle import BrandLifecycle

ALERT_ID = re.compile(r"^(?P<brand>[a-z0-9][a-z0-9-]{0,39})-(?P<at>\d{8}-\d{4})$")
"""An alert id as the email and SMS show it (``nordwind-air-20261122-0305``)."""


class AlertKeptChanging(RuntimeError):
    """The evaluator saved the brand every time the acknowledgement tried to."""


def acknowledge(
    store: WarnStateStore, alert_id: str, by: str, at: datetime, *, attempts: int = 5
) -> str:
    """Acknowledge the brand's open alert; returns what happened. Raises ValueError for
    an id that is no alert's, `NotAcknowledgeable` when it is not the open alert."""
    match = ALERT_ID.match(alert_id)
    if match is None:
        raise ValueError(f"{alert_id[:80]!r} is not an alert id (like nordwind-air-20261122-0305)")
    brand = match.group("brand")
    for _ in range(attempts):
        stored = store.load_state(brand)
        # The timing settings do not matter here: only the open alert's fields change.
        lifecycle = BrandLifecycle(brand, AlertSettings(), stored.lifecycle)
        lifecycle.acknowledge(alert_id, by, at)
        state = BrandState(stored.detectors, lifecycle.to_state(), stored.version)
        try:
            store.save_brand(brand, state, [], at)
        except StoreConflict:
            continue  # the evaluator saved meanwhile: read again and acknowledge again
        return (
            f"{alert_id} acknowledged by {by}: escalation stops; "
            "the team hears it with the next evaluation"
        )
    raise AlertKeptChanging(f"{alert_id}: the alert kept changing; try again")
