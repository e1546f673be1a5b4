"""The demo's Act part on the local stack, checked by what its steps did (read back through
the Act API), not by what it printed: everything parked per scheduler, the author's own
approval refused by the approval rule, one channel failing and then retried, and the
posts whose time passed during the pause listed for review."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from local.act_demo import FAILING_CHANNEL, SCHEDULED_PER_SCHEDULER, ActOutcome, run_act
from local.report_demo import write_report
from local.stack import LocalStack
from stormwatch.config.act import PUBLISHING_CHANNELS

SCHEDULERS = ("mastodon", "facebook", "hootsuite", "queue")
ALERT_BEFORE_ACT = timedelta(minutes=30)


@pytest.fixture(scope="module")
def outcome(stack: LocalStack) -> ActOutcome:
    # Given the example config on the local stack, and a critical alert just acknowledged
    # (on the minute, as the alert id is: else "to statement" reads 31 min when the run's
    # clock stood late in its minute)
    at = datetime.now(UTC).replace(second=0, microsecond=0)
    alert_id = f"nordwind-air-{at - ALERT_BEFORE_ACT:%Y%m%d-%H%M}"
    # When the Act part runs from then on
    return run_act(stack, io.StringIO(), io.StringIO(), alert_id=alert_id, at=at)


def test_pausing_parks_every_scheduled_post_per_scheduler(outcome: ActOutcome) -> None:
    assert outcome.steps[0].command.startswith("stormwatch pause --alert nordwind-air-")
    assert outcome.parked == dict.fromkeys(SCHEDULERS, SCHEDULED_PER_SCHEDULER)


def test_the_authors_own_approval_is_refused_by_the_rule_not_for_a_missing_role(
    outcome: ActOutcome,
) -> None:
    refused = outcome.own_approval
    assert refused is not None
    assert refused.who == "Carla Diaz"
    assert refused.code == 2
    assert "wrote statement" in refused.error
    assert "may not approve it" in refused.error
    assert outcome.approvals == ["anna", "dieter"]


def test_one_channel_fails_and_releasing_again_publishes_it(outcome: ActOutcome) -> None:
    first = outcome.first_release
    assert set(first) == set(PUBLISHING_CHANNELS)
    # (a 503 leaves it open whether the post went out: "unknown", looked for before a retry)
    assert first[FAILING_CHANNEL]["status"] in ("failed", "unknown")
    assert first[FAILING_CHANNEL]["error"]
    assert all(
        result["status"] == "published" and result["url"]
        for channel, result in first.items()
        if channel != FAILING_CHANNEL
    )
    final = outcome.final_release
    assert all(result["status"] == "published" for result in final.values())
    assert all(
        final[channel]["post_id"] == first[channel]["post_id"]
        for channel in first
        if channel != FAILING_CHANNEL
    )


def test_resuming_lists_the_posts_due_during_the_pause_and_restores_the_rest(
    outcome: ActOutcome,
) -> None:
    # (Mastodon, Facebook and our queue seed a post an hour, Hootsuite one every 12 hours)
    review = {"mastodon": 2, "facebook": 2, "hootsuite": 1, "queue": 2}
    listed = {name: [p["scheduler"] for p in outcome.review].count(name) for name in review}
    assert listed == review
    assert outcome.restored == {name: SCHEDULED_PER_SCHEDULER - n for name, n in review.items()}
    assert all(post["state"] == "review" for post in outcome.review)


def test_the_act_part_takes_seconds(outcome: ActOutcome) -> None:
    assert outcome.seconds < 60


def test_the_demo_ends_with_the_alerts_crisis_report_written_locally(
    stack: LocalStack, outcome: ActOutcome, tmp_path: Path
) -> None:
    # Given the Act part done on the alert
    assert outcome.ended_at is not None
    console = io.StringIO()
    # When the demo writes the alert's report
    written = write_report(
        stack, console, alert_id=outcome.alert_id, now=outcome.ended_at, out=tmp_path
    )
    # Then the HTML and the JSON are there, with the Act part's steps and what was parked
    report = json.loads(written.json.read_text(encoding="utf-8"))
    assert "<svg" in written.html.read_text(encoding="utf-8")
    kinds = [step["kind"] for step in report["timeline"]]
    assert kinds[0] == "first abnormal bucket"
    assert {"paused", "released", "resumed"} <= set(kinds)
    assert kinds.count("released") == len(PUBLISHING_CHANNELS)
    assert report["durations_seconds"]["to_statement"] > 0
    parked = {p["scheduler"]: p["parked"] for p in report["parked"]}
    assert parked == dict.fromkeys(SCHEDULERS, SCHEDULED_PER_SCHEDULER)
    assert str(written.html) in console.getvalue()
    assert "to statement 30 min" in console.getvalue()  # released 30 min after the alert
    assert written.seconds < 3
