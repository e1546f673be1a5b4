"""One evaluation: every brand's buckets through the stages of the Warn flow.

    observe   buckets -> each series' detector and recent window      (warn.observe)
    rules     -> findings: volume, negative share, velocity, static,   (warn.rules)
                 a channel gone silent
    lifecycle -> dispatches: started, escalated, reminder,             (warn.lifecycle)
                 acknowledged, resolved
    route     -> who hears it and how: email, the topic's SMS, phones  (warn.route)
    render    -> the email and SMS texts                               (warn.render)
    outbox    -> written with the brand's state in one transaction     (persistence)
    send      -> SNS, each message claimed, sent and marked once       (warn.send)
    report    -> for each alert whose RESOLVED message was just sent,  (`ReportRequests`)
                 ask for its crisis report (an asynchronous invocation)

Per brand one Query reads the recent buckets with the stored state, and one conditional
write stores the state when something changed (a decision, the lifecycle, or the
detectors' hourly checkpoint): about one request per brand and minute. A crash after the
write sends at most the messages it had not marked; evaluating the same minute again
decides nothing new. One brand's failure never stops another's. A minute in which nothing
resolves asks for no report: no request beyond the ones above.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from stormwatch.config import Brand, Config
from stormwatch.config.alerts import AlertSettings
from stormwatch.deadline import TimeBudget
from stormwatch.errors import StoreConflict
from stormwatch.model import ALL_CHANNELS, SeriesCounts, bucket_start, parse_iso_or_none
from stormwatch.notify import Delivery
from stormwatch.persistence.health import PollHealthRecord
from stormwatch.persistence.warn_state import BrandState, BrandView, MonitorView
from stormwatch.warn.lifecycle import BlindMonitor, BrandLifecycle
from stormwatch.warn.moment import LATE
from stormwatch.warn.observe import (
    Observation,
    checkpoint_due,
    expected_quiet,
    first_needed,
    horizon,
    observe,
    restore,
)
from stormwatch.warn.render import (
    EVIDENCE_WINDOW,
    AlertLinks,
    BucketReader,
    MentionReader,
    Renderer,
)
from stormwatch.warn.rules import PollHealth, crisis_findings, silence
from stormwatch.warn.send import Notifier, OutboxPort, send_pending
from stormwatch.warn.vocabulary import Finding, Rule

# A channel without a completed poll for this long is not being read: it spans the slowest
# PollRate the template allows (60 minutes) with slack, so a slow rate never counts.
UNPOLLED_AFTER = timedelta(minutes=75)

logger = logging.getLogger(__name__)

BRAND_WORKERS = 8
"""Brands evaluated at once: their reads overlap, each in its own thread."""
LEARNING_THRESHOLD = timedelta(hours=6)
"""Detectors further behind than this (plus the rules' window) learn in the second pass."""
STATE_AHEAD = LATE
"""How far a stored state may be ahead of the minute judged: a delivery up to `LATE`
behind the clock may follow a run at the clock. Beyond it the state is from a time that
had not come when it was stored (an evaluation an earlier version let through): it is
not trusted."""
LEARNING_ESTIMATE_SECONDS = 5.0
"""What learning 14 days for one brand is assumed to take until one was measured (2.5 s
on a 2-core laptop core; Lambda at 512 MB has about a third of a vCPU)."""


class ReportRequests(Protocol):
    """Asks for an alert's crisis report to be made, without waiting for it."""

    def request(self, alert_id: str) -> None: ...


class WarnStore(BucketReader, Protocol):
    def load_brand(self, brand: str, since: datetime) -> BrandView: ...

    def save_brand(
        self,
        brand: str,
        state: BrandState,
        messages: Sequence[tuple[str, Delivery]],
        now: datetime,
    ) -> int: ...

    def monitor(self) -> MonitorView: ...

    def save_blind(
        self,
        state: Mapping[str, Any],
        expected_version: int,
        messages: Sequence[tuple[str, Delivery]],
        now: datetime,
    ) -> int: ...


@dataclass
class BrandOutcome:
    severity: int = 0
    alert_id: str | None = None
    findings: list[str] = field(default_factory=list)
    warming_up: bool = False
    dispatched: list[str] = field(default_factory=list)
    blind: list[Finding] = field(default_factory=list)


@dataclass
class EvaluationReport:
    at: datetime
    brands: dict[str, BrandOutcome] = field(default_factory=dict)
    blind: list[str] = field(default_factory=list)
    unpolled: list[str] = field(default_factory=list)
    """Enabled channels without a completed poll for `UNPOLLED_AFTER` (`unpolled_channels`)."""
    dispatched: list[str] = field(default_factory=list)
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    """Messages that failed their last try in this run (also in `failed`)."""
    refused: list[str] = field(default_factory=list)
    """Outbox messages never sent: an SMS to a number that is no contact's phone."""
    errors: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    """Brands still to learn from their history: evaluated in a later minute."""
    reports_requested: list[str] = field(default_factory=list)
    """Alerts resolved in this run whose crisis report was asked for."""
    reports_not_requested: list[str] = field(default_factory=list)
    """...and those whose asking failed (logged; the report can still be made on demand)."""

    def summary(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "brands": {
                brand: {
                    "severity": outcome.severity,
                    "alert": outcome.alert_id,
                    "findings": outcome.findings,
                    "warming_up": outcome.warming_up,
                }
                for brand, outcome in self.brands.items()
            },
            "blind": self.blind,
            "unpolled": self.unpolled,
            "dispatched": self.dispatched,
            "sent": self.sent,
            "failed": self.failed,
            "given_up": self.given_up,
            "refused": self.refused,
            "errors": self.errors,
            "deferred": self.deferred,
            "reports_requested": self.reports_requested,
            "reports_not_requested": self.reports_not_requested,
        }


class Evaluator:
    def __init__(
        self,
        config: Config,
        states: WarnStore,
        mentions: MentionReader,
        outbox: OutboxPort,
        notifier: Notifier,
        links: AlertLinks | None = None,
        reports: ReportRequests | None = None,
    ) -> None:
        self.config = config
        self.states = states
        self.outbox = outbox
        self.notifier = notifier
        self.reports = reports
        self.settings = config.alerts
        self.channels = config.enabled_channels
        self.bucket = timedelta(minutes=config.bucket_minutes)
        self.lookback = timedelta(minutes=_lookback_minutes(self.settings))
        self.renderer = Renderer(config, mentions, states, links)

    def run(self, now: datetime, deadline: TimeBudget | None = None) -> EvaluationReport:
        """Evaluate every brand at `now`, then send what is pending.

        A brand whose detectors must first learn from stored history (new to stormwatch,
        or not evaluated for a while) costs seconds of CPU rather than milliseconds: those
        are evaluated one after another once every other brand is done, while `deadline`
        allows; the rest wait for the next minute (`EvaluationReport.deferred`), so a
        deploy with fifty new brands never runs into the function's timeout.
        """
        report = EvaluationReport(now)
        monitor = self.states.monitor()
        report.unpolled = unpolled_channels(self.channels, monitor.health, now)
        for brand_id, outcome in self._evaluate_brands(now, monitor, deadline, report).items():
            if isinstance(outcome, str):
                report.errors.append(outcome)
            else:
                report.brands[brand_id] = outcome
                report.dispatched.extend(outcome.dispatched)
        try:
            self._evaluate_blind(self._blind_findings(report, monitor, now), monitor, now, report)
        except Exception as error:
            logger.exception("blind monitor failed")
            report.errors.append(f"monitor: {error.__class__.__name__}: {error}")
        phones = {c.phone for c in self.config.contacts.values() if c.phone is not None}
        sent = send_pending(self.outbox, self.notifier, now, phones)
        report.sent, report.failed = sent.sent, sent.failed
        report.given_up, report.refused = sent.given_up, sent.refused
        self._request_reports(sent.resolved, report)
        return report

    def _request_reports(self, resolved: Sequence[str], report: EvaluationReport) -> None:
        """Ask for the crisis report of each alert whose RESOLVED message just went out.
        After the send, never before: the message is marked, whatever happens here, and a
        failed request is logged and counted, not retried (nobody waits for the report,
        and `stormwatch report` makes it on demand)."""
        if self.reports is None:
            return
        for alert_id in resolved:
            try:
                self.reports.request(alert_id)
            except Exception as error:
                logger.warning(
                    "crisis report not requested",
                    extra={"alert_id": alert_id, "error": f"{error.__class__.__name__}: {error}"},
                )
                report.reports_not_requested.append(alert_id)
            else:
                report.reports_requested.append(alert_id)

    def _evaluate_brands(
        self,
        now: datetime,
        monitor: MonitorView,
        deadline: TimeBudget | None,
        report: EvaluationReport,
    ) -> dict[str, BrandOutcome | str]:
        """Each brand's outcome (or its error, as text), in the config's order: steady
        brands at once in threads, then those that must learn, while time allows."""
        brands = self.config.brands
        with ThreadPoolExecutor(max_workers=max(1, min(BRAND_WORKERS, len(brands)))) as pool:
            first = list(
                pool.map(lambda brand: self._guarded(brand, now, monitor, learning=False), brands)
            )
        results = dict(zip((brand.id for brand in brands), first, strict=True))
        longest = LEARNING_ESTIMATE_SECONDS
        for brand in brands:
            if results[brand.id] is not None:
                continue
            if deadline is not None and not deadline.allows(2 * longest):
                report.deferred.append(brand.id)
                continue
            started = time.monotonic()
            results[brand.id] = self._guarded(brand, now, monitor, learning=True)
            longest = max(longest, time.monotonic() - started)
        return {brand: outcome for brand, outcome in results.items() if outcome is not None}

    def _blind_findings(
        self, report: EvaluationReport, monitor: MonitorView, now: datetime
    ) -> list[Finding]:
        """One finding per channel on which monitoring is blind: a channel gone silent for
        some brand, or its poller failing."""
        found: dict[str, Finding] = {}
        for outcome in report.brands.values():
            for finding in outcome.blind:
                found.setdefault(finding.channel, finding)
        for channel in self.channels:
            health = _health(monitor.health.get(channel))
            failing = silence(channel, health, None, None, now, self.settings.silence)
            if failing is not None:
                found.setdefault(channel, failing)
        return sorted(found.values(), key=lambda finding: finding.channel)

    def _guarded(
        self, brand: Brand, now: datetime, monitor: MonitorView, *, learning: bool
    ) -> BrandOutcome | str | None:
        """The brand's outcome, its error as text, or None: it must learn from history
        first and `learning` is not allowed now."""
        try:
            return self._evaluate_brand(brand, now, monitor.health, learning=learning)
        except Exception as error:  # one brand's failure must not stop the others
            logger.exception("evaluation failed", extra={"brand": brand.id})
            return f"{brand.id}: {error.__class__.__name__}: {error}"

    # --- one brand ------------------------------------------------------------------

    def _evaluate_brand(
        self,
        brand: Brand,
        now: datetime,
        health: Mapping[str, PollHealthRecord],
        *,
        learning: bool,
    ) -> BrandOutcome | None:
        observed = self._observe(brand, now, health, learning=learning)
        if observed is None:
            return None
        observations, stored = observed
        all_channels = observations[ALL_CHANNELS]
        findings: list[Finding] = []
        for observation in observations.values():
            findings.extend(self._findings(brand, observation, now, health))
        crisis = [f for f in findings if not f.blind]
        lifecycle = BrandLifecycle(
            brand.id, self.settings, _firing_not_ahead(stored.lifecycle, now + STATE_AHEAD)
        )
        dispatches = lifecycle.evaluate(
            horizon(
                ALL_CHANNELS,
                self.channels,
                health,
                now,
                self.settings.settle_minutes,
                self.config.bucket_minutes,
            ),
            self.config.bucket_minutes,
            now,
            findings,
            all_channels.window.buckets[-1][1].total if all_channels.window.buckets else 0,
        )
        outcome = BrandOutcome(
            severity=max((f.severity for f in crisis), default=0),
            alert_id=lifecycle.alert.id if lifecycle.alert else None,
            findings=[f"{f.rule} ({f.where}): {f.reason}" for f in crisis],
            warming_up=all_channels.detector.warming_up,
            blind=[f for f in findings if f.blind],
        )
        windows = {name: o.window for name, o in observations.items()}
        messages: list[tuple[str, Delivery]] = []
        for dispatch in dispatches:
            messages.extend(
                self.renderer.deliveries(brand, dispatch, crisis, windows, lifecycle, now)
            )
        lifecycle.note_paged(delivery.phone for _, delivery in messages if delivery.phone)
        lifecycle_state = lifecycle.to_state()
        if (
            dispatches
            or stored.version == 0
            or _material(lifecycle_state) != _material(stored.lifecycle)
            or checkpoint_due(list(observations.values()), set(stored.detectors))
        ):
            state = BrandState(
                detectors={name: o.detector.to_state() for name, o in observations.items()},
                lifecycle=lifecycle_state,
                version=stored.version,
            )
            try:
                self.states.save_brand(brand.id, state, messages, now)
            except StoreConflict:
                # Another evaluation (or an ack) changed the state first: it decided this
                # minute; the next minute decides again from what it stored.
                logger.info(
                    "brand state changed meanwhile; next minute decides",
                    extra={"brand": brand.id},
                )
                return outcome
        outcome.dispatched = [dispatch.key for dispatch in dispatches]
        return outcome

    def _observe(
        self,
        brand: Brand,
        now: datetime,
        health: Mapping[str, PollHealthRecord],
        *,
        learning: bool,
    ) -> tuple[dict[str, Observation], BrandState] | None:
        """Every series of the brand observed, and the state it was stored at; None when
        the detectors must learn from older history and `learning` is not allowed."""
        names = [ALL_CHANNELS, *self.channels]
        settle = self.settings.settle_minutes
        horizons = {
            name: horizon(name, self.channels, health, now, settle, self.config.bucket_minutes)
            for name in names
        }
        since = min(horizons.values()) - self.lookback + self.bucket
        view = self.states.load_brand(brand.id, since)
        not_after = now + STATE_AHEAD
        detectors = {
            name: restore(view.state.detectors.get(name), self.settings.volume, not_after)
            for name in names
        }
        counts = view.buckets
        needed = min(first_needed(detectors[name], horizons[name]) for name in names)
        if needed < since - LEARNING_THRESHOLD and not learning:
            return None
        if needed < since:
            # A new series learns from stored history, or the detectors' checkpoint is
            # older than the rules' window (the evaluator did not run for a while).
            older = self.states.read_buckets(brand.id, needed, since)
            counts = _merged(older, counts)
        observations = {
            name: observe(
                name,
                detectors[name],
                counts.get(name, {}),
                horizons[name],
                self.lookback,
                self._first_polled(name, health),
            )
            for name in names
        }
        return observations, view.state

    def _first_polled(self, series: str, health: Mapping[str, PollHealthRecord]) -> list[datetime]:
        return [
            bucket_start(record.first_success_at, self.config.bucket_minutes)
            for channel, record in health.items()
            if record.first_success_at is not None and series in (ALL_CHANNELS, channel)
        ]

    def _findings(
        self,
        brand: Brand,
        observation: Observation,
        now: datetime,
        health: Mapping[str, PollHealthRecord],
    ) -> list[Finding]:
        found = crisis_findings(
            observation.assessment,
            observation.window,
            self.settings,
            brand.id,
            baseline_trusted=not observation.detector.warming_up,
        )
        if observation.series != ALL_CHANNELS:
            rule = self.settings.silence
            blind = silence(
                observation.series,
                _health(health.get(observation.series)),
                observation.window,
                expected_quiet(observation, rule.quiet_minutes),
                now,
                rule,
            )
            if blind is not None and blind.rule is not Rule.FAILING:
                found.append(blind)
        return found

    # --- monitoring is blind -------------------------------------------------------------

    def _evaluate_blind(
        self,
        findings: Sequence[Finding],
        monitor: MonitorView,
        now: datetime,
        report: EvaluationReport,
    ) -> None:
        blind = BlindMonitor(monitor.blind)
        dispatches = blind.evaluate(now, findings)
        report.blind = sorted(blind.blind)
        messages = [
            (f"{dispatch.key}:ops", self.renderer.blind(dispatch, findings, now))
            for dispatch in dispatches
        ]
        if dispatches or monitor.blind is None:
            try:
                self.states.save_blind(blind.to_state(), monitor.blind_version, messages, now)
            except StoreConflict:
                logger.info("blind monitor changed meanwhile")
                return
            report.dispatched.extend(dispatch.key for dispatch in dispatches)


def _lookback_minutes(settings: AlertSettings) -> int:
    """How far back the rules look (and so how many buckets each run reads)."""
    return max(
        [
            settings.negative_share.window_minutes,
            2 * settings.velocity.window_minutes,
            settings.silence.quiet_minutes,
            int(EVIDENCE_WINDOW.total_seconds() // 60),
            *(rule.window_minutes for rule in settings.static),
        ]
    )


def _merged(
    older: Mapping[str, SeriesCounts], newer: Mapping[str, SeriesCounts]
) -> dict[str, SeriesCounts]:
    merged = {name: dict(series) for name, series in older.items()}
    for name, series in newer.items():
        merged.setdefault(name, {}).update(series)
    return merged


def _material(lifecycle: Mapping[str, Any] | None) -> Any:
    """A lifecycle state without the firing rule's clock (the last bucket it saw), which
    moves every bucket and is rebuilt from the buckets when it is not stored."""
    if lifecycle is None:
        return None
    state = copy.deepcopy(dict(lifecycle))
    firing = state.get("firing")
    if isinstance(firing, dict):
        firing.pop("last_bucket", None)
    return state


def _firing_not_ahead(
    lifecycle: Mapping[str, Any] | None, not_after: datetime
) -> Mapping[str, Any] | None:
    """The lifecycle without its firing rule when that has seen a bucket after
    `not_after` (it would ignore every bucket until then); the open alert and the
    episodes stay."""
    firing = lifecycle.get("firing") if lifecycle else None
    last = parse_iso_or_none(firing.get("last_bucket")) if isinstance(firing, dict) else None
    if lifecycle is None or last is None or last <= not_after:
        return lifecycle
    logger.warning("firing rule ahead of the clock: started afresh", extra={"last": str(last)})
    return {key: value for key, value in lifecycle.items() if key != "firing"}


def unpolled_channels(
    channels: Sequence[str], health: Mapping[str, PollHealthRecord], now: datetime
) -> list[str]:
    """The channels whose poller has not completed a run for `UNPOLLED_AFTER`: a schedule
    deleted or disabled, a broken role, a throttled function. Nothing errs then, and a quiet
    channel looks the same to the silence rule, so `SilentPollerAlarm` reads this count.

    A channel never polled counts once polling has gone on that long elsewhere (since the
    earliest first success of any channel): a fresh deploy is not a stopped poller."""
    started = min(
        (record.first_success_at for record in health.values() if record.first_success_at),
        default=None,
    )
    found = []
    for channel in channels:
        record = health.get(channel)
        ran = record.last_run_at if record is not None else None
        since = ran if ran is not None else started
        if since is not None and now - since > UNPOLLED_AFTER:
            found.append(channel)
    return found


def _health(record: PollHealthRecord | None) -> PollHealth | None:
    if record is None:
        return None
    return PollHealth(record.last_success_at, record.consecutive_failures, record.last_error)
