"""The evaluator asks for an alert's crisis report once, when its RESOLVED message went
out; a failure to ask loses nothing and fails nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from local.localconfig import read_document
from stormwatch.config import Config, parse_config
from stormwatch.warn.evaluate import Evaluator
from tests.unit.test_evaluate import T0, MemoryStore, Outbox, _healthy, _storm

OVER = T0 + timedelta(hours=30)


@pytest.fixture
def config() -> Config:
    return parse_config(read_document(), now=T0)


class Requests:
    def __init__(self, failing: bool = False) -> None:
        self.asked: list[str] = []
        self.failing = failing

    def request(self, alert_id: str) -> None:
        if self.failing:
            raise ConnectionError("Lambda unreachable")
        self.asked.append(alert_id)


def _stormed(config: Config, requests: Requests) -> tuple[MemoryStore, Outbox, Evaluator]:
    store = MemoryStore()
    _storm(store, "nordwind-air", T0 - timedelta(minutes=30), per_bucket=60, buckets=7)
    _healthy(store, config, T0 + timedelta(minutes=1))
    outbox = Outbox()
    evaluator = Evaluator(config, store, store, store, outbox, reports=requests)
    evaluator.run(T0 + timedelta(minutes=1))
    return store, outbox, evaluator


def test_the_report_is_asked_for_once_when_the_resolved_messages_went_out(
    config: Config,
) -> None:
    # Given a storm announced (no report asked for while it runs)
    requests = Requests()
    store, outbox, evaluator = _stormed(config, requests)
    assert requests.asked == []
    # When it is over and the same minute is evaluated again, then the next one
    _healthy(store, config, OVER)
    over = evaluator.run(OVER)
    again = evaluator.run(OVER)
    later = evaluator.run(OVER + timedelta(minutes=1))
    # Then its report was asked for once, though its email and several SMS went out
    resolved = [d for d in outbox.sent if d.kind == "resolved"]
    assert len(resolved) > 1
    assert requests.asked == [resolved[0].alert_id]
    assert over.reports_requested == requests.asked
    assert again.reports_requested == later.reports_requested == []


def test_a_failure_to_ask_is_counted_and_loses_no_message(config: Config) -> None:
    # Given a storm, and Lambda unreachable when it is over
    requests = Requests(failing=True)
    store, outbox, evaluator = _stormed(config, requests)
    _healthy(store, config, OVER)
    # When it is over
    over = evaluator.run(OVER)
    # Then the evaluation succeeded, everyone heard it is over and each message is marked
    assert over.errors == []
    assert any(d.kind == "resolved" for d in outbox.sent)
    assert all(entry["status"] == "sent" for entry in store.outbox.values())
    # ...and the report not asked for is counted (not retried: `stormwatch report` makes it)
    alert = next(d.alert_id for d in outbox.sent if d.kind == "resolved")
    assert over.reports_not_requested == [alert]
    assert over.summary()["reports_not_requested"] == [alert]
    assert evaluator.run(OVER + timedelta(minutes=1)).reports_not_requested == []


def test_a_resolved_message_not_sent_asks_for_nothing_until_it_is(config: Config) -> None:
    # Given a storm, and SNS failing once when it is over
    requests = Requests()
    store, outbox, evaluator = _stormed(config, requests)
    _healthy(store, config, OVER)
    outbox.failing = 1
    # When it is over, then the minute after
    first = evaluator.run(OVER)
    second = evaluator.run(OVER + timedelta(minutes=1))
    # Then the report is asked for in whichever run sent a RESOLVED message, once per run
    assert first.failed
    assert len(requests.asked) in (1, 2)
    assert set(requests.asked) == {next(d.alert_id for d in outbox.sent if d.kind == "resolved")}
    assert first.reports_requested + second.reports_requested == requests.asked
