"""Something for the local console to show: a storm on one brand, its open alert, a
statement waiting for approval, and posts waiting in every scheduler.

The last day's buckets come from the scenario generator (a storm in its last two hours),
counted as the poll path counts them and imported as history; the alert and its "started"
message are written as the evaluator writes them; the statement is Carla's, submitted
through the Act function like any other. The alert's signed link is the one its SMS would
carry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from local.act_demo import STATUS_PAGE, seed_scheduled_posts
from local.history import count_buckets
from local.scenario import build_scenario
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
BRAND = "nordwind-air"
STORM_HOURS = 2
AUTHOR = "arn:aws:iam::123456789012:user/carla"


@dataclass(frozen=True, slots=True)
class SeededCrisis:
    alert_id: str
    link: str
    """The alert's signed link, whole (`<ConsoleUrl>/l/...`)."""
    statement_id: str
    sha256: str


def seed_crisis(stack: LocalStack, now: datetime) -> SeededCrisis:
    seed_scheduled_posts(stack, now)
    _import_last_day(stack, now)
    alert_id = open_alert(stack, now - timedelta(hours=STORM_HOURS) + timedelta(minutes=20))
    statement = submit_statement(stack, now)
    return SeededCrisis(
        alert_id,
        signed_link(stack, alert_id, now),
        statement["id"],
        statement["sha256"],
    )


def _import_last_day(stack: LocalStack, now: datetime) -> None:
    from stormwatch.persistence.buckets import BucketStore
    from stormwatch.persistence.table import Table

    start = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    day = build_scenario(
        seed=11,
        start=start,
        hours=24,
        storm_offset=now - timedelta(hours=STORM_HOURS) - start,
        volume=0.3,
    )
    table = Table(stack.client("dynamodb"), stack.outputs["TableName"])
    BucketStore(table).import_history(count_buckets(day, 5, until=now))


def open_alert(stack: LocalStack, started_at: datetime, brand: str = BRAND) -> str:
    """An open critical alert on `brand`, with its "started" messages in the outbox."""
    from stormwatch.notify import EMAIL, Delivery
    from stormwatch.persistence.table import Table
    from stormwatch.persistence.warn_state import BrandState, WarnStateStore
    from stormwatch.warn.lifecycle import ActiveAlert, alert_id_of

    started_at = started_at.replace(second=0, microsecond=0)
    alert = ActiveAlert(
        id=alert_id_of(brand, started_at),
        started_at=started_at,
        severity=3,
        peak_severity=3,
        peak_at=started_at + timedelta(minutes=25),
        peak_count=180,
    )
    table = Table(stack.client("dynamodb"), stack.outputs["TableName"])
    started = Delivery(EMAIL, severity=3, brand=brand, kind="started", alert_id=alert.id)
    WarnStateStore(table).save_brand(
        brand,
        BrandState(lifecycle={"firing": {}, "alert": alert.as_dict(), "episodes": []}),
        [(f"{alert.id}:started:email", started)],
        started_at,
    )
    return alert.id


def holding_statement(stack: LocalStack, situation: str, next_update: datetime) -> dict[str, Any]:
    """The English holding statement, its link pointed at the fake web's status page."""
    from stormwatch.act.statements import load_kind, render

    rendering = render(
        load_kind(ROOT / "statements" / "holding"),
        "en",
        {
            "situation": situation,
            "next_update": next_update.isoformat(timespec="minutes"),
            "link": "https://nordwind.example/updates",
        },
    )
    web = stack.channels.channel_url("rss") + STATUS_PAGE
    return {
        "kind": "holding",
        "language": "en",
        "base": rendering.base.replace("https://nordwind.example/updates", web),
        "texts": {
            channel: text.replace("https://nordwind.example/updates", web)
            for channel, text in rendering.texts.items()
        },
        "variables": dict(rendering.variables),
    }


def submit_statement(
    stack: LocalStack,
    now: datetime,
    situation: str = "Since 6 am, flights from Hamburg are delayed.",
    author: str = AUTHOR,
) -> dict[str, Any]:
    """A statement by `author` (an IAM identity of act.people), submitted for approval."""
    from ops.transport import LocalTransport

    transport = LocalTransport(stack, author)
    next_update = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    body = holding_statement(stack, situation, next_update)
    draft = transport.request("POST", "/statements", body)
    if not draft.ok:
        raise RuntimeError(f"the statement was refused: {json.dumps(draft.body)}")
    seen = {"sha256": draft.body["sha256"]}
    submitted = transport.request("POST", f"/statements/{draft.body['id']}/submit", seen)
    if not submitted.ok:
        raise RuntimeError(f"the statement was not submitted: {json.dumps(submitted.body)}")
    return dict(draft.body)


def signed_link(stack: LocalStack, alert_id: str, issued: datetime) -> str:
    """The link the alert's SMS carries, signed with the console's key."""
    from stormwatch.console.links import alert_link

    assert stack.deployment is not None
    environment = stack.deployment.function_environment("ConsoleFunction")
    key = stack.client("secretsmanager").get_secret_value(
        SecretId=environment["CONSOLE_SECRET_NAME"]
    )["SecretString"]
    brands = [brand.id for brand in stack.config().brands]
    path = alert_link(key.encode(), alert_id, brands, issued)
    return f"{environment['CONSOLE_URL']}{path}"
