"""One evaluation: every brand's buckets through the detector and the rules, the alert
lifecycle, the outbox, and SNS.

Per brand, each series (all channels, and each channel) gets the buckets it has not
seen yet; the detector's assessment of the current bucket and the rules over the
recent window become findings; the brand's lifecycle turns them into dispatches; the
dispatches become deliveries (an email, an SMS to the topic, an SMS to each person on
call...) written to the outbox together with the lifecycle state in one transaction;
then every pending delivery is sent and marked. A crash after the transaction re-sends
at most the deliveries it had not marked; evaluating the same minute again decides
nothing new. One brand's failure never stops another's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from stormwatch.config import Brand, Config
from stormwatch.errors import StoreConflict
from stormwatch.model import ALL_CHANNELS, BucketCounts, bucket_start, parse_iso
from stormwatch.notify import EMAIL, OPS_EMAIL, SMS, SMS_TOPIC, Delivery
from stormwatch.store import (
    BLIND_KEY,
    Item,
    OutboxEntry,
    PollHealthRecord,
    Versioned,
    alert_state_key,
    detector_key,
)
from stormwatch.warn import messages
from stormwatch.warn.detector import VolumeDetector
from stormwatch.warn.lifecycle import (
    BUSINESS_HOURS,
    ESCALATION,
    ON_CALL,
    TEAM,
    BlindMonitor,
    BrandLifecycle,
    Dispatch,
    DispatchKind,
)
from stormwatch.warn.rules import (
    Finding,
    PollHealth,
    SeriesWindow,
    crisis_findings,
    silence,
)

logger = logging.getLogger(__name__)

BOOTSTRAP = timedelta(days=14)
"""A new detector learns from up to this much stored history before judging."""
EVIDENCE_WINDOW = timedelta(hours=1)
MAX_ATTEMPTS = 10
SEND_LEASE = timedelta(minutes=5)
"""How long a run's claim on a notification lasts: far beyond one SNS publish, short
enough that a message whose run died goes out a few minutes late, not never."""
ACK_COMMAND = "python -m ops ack"

_KINDS = {
    DispatchKind.STARTED: messages.Kind.STARTED,
    DispatchKind.ESCALATED: messages.Kind.ESCALATED,
    DispatchKind.REMINDER: messages.Kind.REMINDER,
    DispatchKind.ACKNOWLEDGED: messages.Kind.ACKNOWLEDGED,
    DispatchKind.RESOLVED: messages.Kind.RESOLVED,
    DispatchKind.BLIND: messages.Kind.BLIND,
}


class WarnStore(Protocol):
    def load_states(self, keys: Sequence[Item]) -> list[Versioned]: ...

    def save_state(self, key: Item, state: Mapping[str, Any], expected_version: int) -> int: ...

    def save_state_with_outbox(
        self,
        key: Item,
        state: Mapping[str, Any],
        expected_version: int,
        dispatches: Sequence[tuple[str, Mapping[str, Any]]],
        now: datetime,
    ) -> int: ...

    def pending_notifications(self) -> list[OutboxEntry]: ...

    def claim_notification(self, dispatch_key: str, now: datetime, lease: timedelta) -> bool: ...

    def mark_notification(
        self, dispatch_key: str, *, sent: bool, error: str | None = None
    ) -> None: ...

    def read_health(self, channels: Sequence[str]) -> dict[str, PollHealthRecord]: ...

    def read_buckets(
        self, brand: str, channel: str, start: datetime, end: datetime
    ) -> dict[datetime, BucketCounts]: ...

    def recent_mentions(
        self, channel: str, start: datetime, end: datetime, *, limit: int = 500
    ) -> list[dict[str, Any]]: ...


class Notifier(Protocol):
    def send(self, delivery: Delivery) -> str: ...


@dataclass
class BrandOutcome:
    severity: int = 0
    alert_id: str | None = None
    findings: list[str] = field(default_factory=list)
    warming_up: bool = False


@dataclass
class EvaluationReport:
    at: datetime
    brands: dict[str, BrandOutcome] = field(default_factory=dict)
    blind: list[str] = field(default_factory=list)
    dispatched: list[str] = field(default_factory=list)
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

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
            "dispatched": self.dispatched,
            "sent": self.sent,
            "failed": self.failed,
            "errors": self.errors,
        }


class Evaluator:
    def __init__(self, config: Config, store: WarnStore, notifier: Notifier) -> None:
        self.config = config
        self.store = store
        self.notifier = notifier
        self.settings = config.alerts
        self.channels = config.enabled_channels
        self.bucket = timedelta(minutes=config.bucket_minutes)

    def run(self, now: datetime) -> EvaluationReport:
        report = EvaluationReport(now)
        health = self.store.read_health(self.channels)
        blind_findings: dict[str, Finding] = {}
        for brand in self.config.brands:
            try:
                findings = self._evaluate_brand(brand, now, health, report)
            except Exception as error:  # one brand's failure must not stop the others
                logger.exception("evaluation failed", extra={"brand": brand.id})
                report.errors.append(f"{brand.id}: {error.__class__.__name__}: {error}")
                continue
            for finding in findings:
                if finding.blind:
                    blind_findings.setdefault(finding.channel, finding)
        for channel in self.channels:
            record = health.get(channel)
            found = silence(channel, _health(record), None, None, now, self.settings.silence)
            if found is not None:
                blind_findings.setdefault(channel, found)
        try:
            self._evaluate_blind(
                sorted(blind_findings.values(), key=lambda f: f.channel), now, report
            )
        except Exception as error:
            logger.exception("blind monitor failed")
            report.errors.append(f"monitor: {error.__class__.__name__}: {error}")
        self.deliver(report, now)
        return report

    # --- one brand ------------------------------------------------------------------

    def _evaluate_brand(
        self,
        brand: Brand,
        now: datetime,
        health: Mapping[str, PollHealthRecord],
        report: EvaluationReport,
    ) -> list[Finding]:
        series = [ALL_CHANNELS, *self.channels]
        keys = [detector_key(brand.id, name) for name in series]
        states = self.store.load_states([*keys, alert_state_key(brand.id)])
        findings: list[Finding] = []
        outcome = BrandOutcome()
        all_count = 0
        windows: dict[str, SeriesWindow] = {}
        for name, key, stored in zip(series, keys, states, strict=False):
            horizon = self._horizon(name, now, health)
            window, found, detector = self._series(brand, name, key, stored, horizon, now, health)
            windows[name] = window
            findings.extend(found)
            outcome.warming_up |= name == ALL_CHANNELS and detector.warming_up
            if name == ALL_CHANNELS:
                all_count = window.buckets[-1][1].total if window.buckets else 0
        lifecycle_state = states[-1]
        lifecycle = BrandLifecycle(brand.id, self.settings, lifecycle_state.state)
        dispatches = lifecycle.evaluate(
            self._horizon(ALL_CHANNELS, now, health),
            self.config.bucket_minutes,
            now,
            findings,
            all_count,
        )
        crisis = [f for f in findings if not f.blind]
        outcome.severity = max((f.severity for f in crisis), default=0)
        outcome.findings = [f"{f.rule} ({f.where}): {f.reason}" for f in crisis]
        outcome.alert_id = lifecycle.alert.id if lifecycle.alert else None
        report.brands[brand.id] = outcome
        deliveries: list[tuple[str, Mapping[str, Any]]] = []
        for dispatch in dispatches:
            deliveries.extend(self._deliveries(brand, dispatch, crisis, windows, lifecycle, now))
            report.dispatched.append(dispatch.key)
        try:
            self.store.save_state_with_outbox(
                alert_state_key(brand.id),
                lifecycle.to_state(),
                lifecycle_state.version,
                deliveries,
                now,
            )
        except StoreConflict:
            # Another evaluation (or an ack) changed the state first: it decided this minute.
            report.dispatched = [k for k in report.dispatched if not k.startswith(f"{brand.id}-")]
            logger.info(
                "lifecycle changed meanwhile; next minute decides", extra={"brand": brand.id}
            )
        return findings

    def _horizon(
        self, name: str, now: datetime, health: Mapping[str, PollHealthRecord]
    ) -> datetime:
        """The newest bucket of a series that can be judged now.

        Mentions reach their bucket when the channel is next polled, minutes after they
        were posted: judging the current bucket would see it empty, and the detector would
        learn it so. A bucket is judged once its channel has been polled after it began (all
        channels, for ALL) - or after `settle_minutes` without a poll, so that one broken
        poller cannot hold every alert back; monitoring that is blind says so separately.
        """
        floor = now - timedelta(minutes=self.settings.settle_minutes)

        def settled(channel: str) -> datetime:
            record = health.get(channel)
            ran = record.last_run_at if record is not None else None
            return max(ran, floor) if ran is not None else floor

        moment = (
            min(settled(channel) for channel in self.channels)
            if name == ALL_CHANNELS
            else settled(name)
        )
        return bucket_start(min(moment, now), self.config.bucket_minutes)

    def _series(
        self,
        brand: Brand,
        name: str,
        key: Item,
        stored: Versioned,
        current: datetime,
        now: datetime,
        health: Mapping[str, PollHealthRecord],
    ) -> tuple[SeriesWindow, list[Finding], VolumeDetector]:
        """`current` is the series' horizon: the newest bucket judged, possibly not final."""
        settings = self.settings
        detector = (
            VolumeDetector.from_state(stored.state, settings.volume)
            if stored.state
            else VolumeDetector(settings.volume)
        )
        rules_start = current - timedelta(minutes=self._lookback_minutes()) + self.bucket
        newest = detector.newest_bucket
        if newest is not None and newest > current:
            # Judged further already (the horizon moved back: a poller that ran fell silent).
            current = newest
        earliest = current - BOOTSTRAP
        resume = newest is not None and newest >= earliest
        start = min(newest if resume and newest else earliest, rules_start)
        counts = self.store.read_buckets(brand.id, name, start, current + self.bucket)
        if resume and newest is not None:
            feed_start = newest
        else:
            # Before stormwatch listened nothing is known: those buckets are not zero, they
            # are missing. A new baseline starts at the first data there is.
            known = [moment for moment in counts if moment >= earliest]
            known += [
                bucket_start(record.first_success_at, self.config.bucket_minutes)
                for channel, record in health.items()
                if record.first_success_at is not None and name in (ALL_CHANNELS, channel)
            ]
            feed_start = max(earliest, min(known, default=current))
        assessment = None
        moment = feed_start
        while moment <= current:
            assessment = detector.observe(moment, counts.get(moment, BucketCounts()).total)
            moment += self.bucket
        if detector.to_state() != (stored.state or {}):
            try:
                self.store.save_state(key, detector.to_state(), stored.version)
            except StoreConflict:
                logger.info("detector saved by another run", extra={"series": key["pk"]["S"]})
        window = SeriesWindow(
            name,
            self.config.bucket_minutes,
            [
                (
                    rules_start + self.bucket * i,
                    counts.get(rules_start + self.bucket * i, BucketCounts()),
                )
                for i in range(int((current - rules_start) / self.bucket) + 1)
            ],
        )
        found = crisis_findings(
            assessment, window, settings, brand.id, baseline_trusted=not detector.warming_up
        )
        if name != ALL_CHANNELS:
            quiet = settings.silence.quiet_minutes
            expected = [
                detector.expected_count(current - self.bucket * i)
                for i in range(quiet // self.config.bucket_minutes)
            ]
            expected_quiet = None if None in expected else sum(e or 0.0 for e in expected)
            blind = silence(
                name, _health(health.get(name)), window, expected_quiet, now, settings.silence
            )
            if blind is not None and blind.rule != "failing poller":
                found.append(blind)
        return window, found, detector

    def _lookback_minutes(self) -> int:
        settings = self.settings
        return max(
            [
                settings.negative_share.window_minutes,
                2 * settings.velocity.window_minutes,
                settings.silence.quiet_minutes,
                int(EVIDENCE_WINDOW.total_seconds() // 60),
                *(rule.window_minutes for rule in settings.static),
            ]
        )

    # --- what people are told -----------------------------------------------------------

    def _deliveries(
        self,
        brand: Brand,
        dispatch: Dispatch,
        crisis: Sequence[Finding],
        windows: Mapping[str, SeriesWindow],
        lifecycle: BrandLifecycle,
        now: datetime,
    ) -> list[tuple[str, Mapping[str, Any]]]:
        notice = self._notice(brand, dispatch, crisis, windows, lifecycle, now)
        email = messages.email(notice)
        text = messages.sms(notice)
        base = Delivery(
            EMAIL,
            severity=dispatch.severity,
            brand=brand.id,
            kind=dispatch.kind.value,
            alert_id=dispatch.alert_id,
        )
        made: list[tuple[str, Delivery]] = []
        if TEAM in dispatch.audience:
            made.append(
                (f"{dispatch.key}:email", replace(base, subject=email.subject, text=email.body))
            )
            if dispatch.severity >= 2:
                made.append(
                    (f"{dispatch.key}:sms-topic", replace(base, medium=SMS_TOPIC, text=text))
                )
        made.extend(
            (f"{dispatch.key}:sms:{phone}", replace(base, medium=SMS, text=text, phone=phone))
            for phone in self._phones(dispatch.audience, now)
        )
        return [(key, delivery.as_payload()) for key, delivery in made]

    def _phones(self, audience: Sequence[str], now: datetime) -> list[str]:
        roster = self.config.roster
        if roster is None:
            return []
        phones: list[str] = []
        for target in audience:
            if target == ON_CALL:
                contacts = list(roster.on_call(now).contacts)
            elif target == ESCALATION:
                contacts = list(roster.escalation)
            elif target == BUSINESS_HOURS and roster.business_hours is not None:
                contacts = list(roster.business_hours.contacts)
            else:
                continue
            phones.extend(c.phone for c in contacts if c.phone and c.phone not in phones)
        return phones

    def _paging(self, audience: Sequence[str], now: datetime) -> list[str]:
        roster = self.config.roster
        if roster is None:
            return []
        names: list[str] = []
        for target in audience:
            if target == ON_CALL:
                names.extend(c.name for c in roster.on_call(now).contacts)
            elif target == ESCALATION:
                names.extend(c.name for c in roster.escalation)
        return list(dict.fromkeys(names))

    def _notice(
        self,
        brand: Brand,
        dispatch: Dispatch,
        crisis: Sequence[Finding],
        windows: Mapping[str, SeriesWindow],
        lifecycle: BrandLifecycle,
        now: datetime,
    ) -> messages.Notice:
        started = dispatch.started_at or now
        evidence = [
            messages.Evidence(f.rule, f.channel, f.observed, f.expected, f.window_minutes, f.reason)
            for f in sorted(crisis, key=lambda f: (-f.severity, f.channel != ALL_CHANNELS))
        ]
        minutes = int(EVIDENCE_WINDOW.total_seconds() // 60)
        channel_counts = sorted(
            (
                messages.ChannelCount(name, window.total(minutes).total)
                for name, window in windows.items()
                if name != ALL_CHANNELS and window.total(minutes).total
            ),
            key=lambda count: -count.mentions,
        )
        acknowledged = None
        alert = lifecycle.alert
        if dispatch.kind is DispatchKind.ACKNOWLEDGED and alert and alert.acknowledged_at:
            acknowledged = messages.Acknowledgement(
                alert.acknowledged_by or "?", alert.acknowledged_at
            )
        escalation = None
        if dispatch.kind is DispatchKind.REMINDER:
            round_step = dispatch.key.rsplit("-", 1)[1]
            step = int(round_step.split(".")[1])
            escalation = messages.Escalation(
                step, len(self.settings.escalation.steps), self._paging(dispatch.audience, now)
            )
        resolution = None
        if dispatch.kind is DispatchKind.RESOLVED:
            resolution = self._resolution(brand, lifecycle, started, now)
        return messages.Notice(
            brand_name=brand.name,
            brand_id=brand.id,
            alert_id=dispatch.alert_id,
            kind=_KINDS[dispatch.kind],
            severity=max(1, min(3, dispatch.severity)),
            started_at=started,
            now=now,
            time_zone=self.config.time_zone,
            evidence=evidence,
            channels=channel_counts,
            top_negative=self._top_negative(brand, channel_counts, now),
            ack_command=f"{ACK_COMMAND} {dispatch.alert_id}",
            pause_instructions=self.settings.pause_instructions,
            previous_severity=dispatch.previous_severity,
            escalation=escalation,
            acknowledged=acknowledged,
            resolution=resolution,
        )

    def _top_negative(
        self, brand: Brand, channels: Sequence[messages.ChannelCount], now: datetime
    ) -> list[messages.TopMention]:
        found: list[dict[str, Any]] = []
        for count in channels[:4]:
            found.extend(
                item
                for item in self.store.recent_mentions(count.channel, now - EVIDENCE_WINDOW, now)
                if item["sentiment"] == "negative" and brand.id in item["brands"]
            )
        found.sort(key=lambda item: (-item["reach"], -item["engagement"]))
        return [
            messages.TopMention(
                item["channel"], item["author"], item["text"], item["url"], item["reach"]
            )
            for item in found[:5]
        ]

    def _resolution(
        self, brand: Brand, lifecycle: BrandLifecycle, started: datetime, now: datetime
    ) -> messages.Resolution:
        episode = lifecycle.episodes[-1] if lifecycle.episodes else {}
        duration = now - started
        during = self.store.read_buckets(brand.id, ALL_CHANNELS, started, now + self.bucket)
        before = self.store.read_buckets(brand.id, ALL_CHANNELS, started - duration, started)
        return messages.Resolution(
            duration=duration,
            peak_at=parse_iso(episode["peak_at"]) if episode.get("peak_at") else started,
            peak_count=int(episode.get("peak_count", 0)),
            before=_totals(before.values()),
            during=_totals(during.values()),
            peak_bucket_minutes=self.config.bucket_minutes,
        )

    # --- monitoring is blind -------------------------------------------------------------

    def _evaluate_blind(
        self, findings: Sequence[Finding], now: datetime, report: EvaluationReport
    ) -> None:
        (stored,) = self.store.load_states([BLIND_KEY])
        monitor = BlindMonitor(stored.state)
        dispatches = monitor.evaluate(now, findings)
        report.blind = sorted(monitor.blind)
        deliveries = []
        for dispatch in dispatches:
            subject, body = self._blind_email(dispatch, findings, stored, now)
            delivery = Delivery(
                OPS_EMAIL,
                severity=1,
                brand="",
                kind=dispatch.kind.value,
                alert_id=dispatch.alert_id,
                subject=subject,
                text=body,
            )
            deliveries.append((f"{dispatch.key}:ops", delivery.as_payload()))
            report.dispatched.append(dispatch.key)
        if dispatches or stored.state is None:
            try:
                self.store.save_state_with_outbox(
                    BLIND_KEY, monitor.to_state(), stored.version, deliveries, now
                )
            except StoreConflict:
                logger.info("blind monitor changed meanwhile")

    def _blind_email(
        self, dispatch: Dispatch, findings: Sequence[Finding], stored: Versioned, now: datetime
    ) -> tuple[str, str]:
        if dispatch.kind is DispatchKind.BLIND:
            finding = next(f for f in findings if f.channel == dispatch.channel)
            notice = messages.Notice(
                brand_name="stormwatch",
                brand_id="ops",
                alert_id=dispatch.alert_id,
                kind=messages.Kind.BLIND,
                severity=1,
                started_at=now - timedelta(minutes=finding.window_minutes),
                now=now,
                time_zone=self.config.time_zone,
                evidence=[
                    messages.Evidence(
                        finding.rule,
                        finding.channel,
                        finding.observed,
                        finding.expected,
                        finding.window_minutes,
                        finding.reason,
                    )
                ],
            )
            email = messages.email(notice)
            return email.subject, email.body
        # The channel is read again: a short all-clear for ops.
        subject = f"[OPS] stormwatch: {dispatch.channel} is read again"
        body = (
            f"For ops: mentions on {dispatch.channel} are read again, so alerts for "
            f"{dispatch.channel} are reliable again.\n\n{dispatch.reason}\n"
        )
        return subject, body

    # --- sending ------------------------------------------------------------------------

    def deliver(self, report: EvaluationReport, now: datetime) -> None:
        for entry in self.store.pending_notifications():
            if entry.attempts >= MAX_ATTEMPTS:
                continue
            if not self.store.claim_notification(entry.key, now, SEND_LEASE):
                continue
            try:
                self.notifier.send(Delivery.from_payload(entry.payload))
            except Exception as error:
                logger.warning(
                    "notification not sent", extra={"key": entry.key, "error": str(error)}
                )
                self.store.mark_notification(entry.key, sent=False, error=str(error))
                report.failed.append(entry.key)
                continue
            self.store.mark_notification(entry.key, sent=True)
            report.sent += 1


def _health(record: PollHealthRecord | None) -> PollHealth | None:
    if record is None:
        return None
    return PollHealth(record.last_success_at, record.consecutive_failures, record.last_error)


def _totals(buckets: Any) -> messages.Totals:
    total = BucketCounts()
    for counts in buckets:
        total.merge(counts)
    share = total.negative / total.total if total.total else 0.0
    return messages.Totals(total.total, share)
