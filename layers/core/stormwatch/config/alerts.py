"""The ``alerts`` section: every threshold of the Warn flow, with defaults that work.

    alerts:
      volume: {watch_return_days: 14, warning_return_days: 90, critical_return_days: 365}
      negative_share: {level: 0.6, min_mentions: 30, window_minutes: 30, severity: 2}
      velocity: {window_minutes: 15, growth: 4.0, min_mentions: 40, severity: 1}
      static:
        - {brand: nordwind-air, channel: ALL, window_minutes: 15, min_mentions: 200, severity: 2}
      silence: {failing_runs: 5, quiet_minutes: 120, min_expected: 10}
      lifecycle: {confirm_buckets: 1, resolve_after_minutes: 60, cooldown_minutes: 360}
      escalation:
        steps:
          - {after_minutes: 15, notify: on_call}
          - {after_minutes: 30, notify: escalation}
        repeat: 2
      pause_instructions: "runbook wiki.example.com/crisis#pause"
      settle_minutes: 15

Every key is optional. The detector (`stormwatch.warn.detector.VolumeDetector`) and the
alert-start rule (`stormwatch.warn.firing.FiringRule`) take their sections as they are:
their tuning is documented once, here, and shows in the JSON Schema.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Final, Literal

from annotated_types import Ge, Gt, Le, MinLen
from pydantic import AfterValidator, Field, Strict, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from stormwatch.config.fields import (
    Between,
    Flag,
    Integer,
    Number,
    Section,
    Severity,
    Text,
    TimeZoneName,
    distinct,
    problem,
)
from stormwatch.model import ALL_CHANNELS

MAX_PAUSE_INSTRUCTIONS: Final = 100
"""Long enough for a runbook link or a menu path; the email carries it whole."""

Minutes = Annotated[Integer, Ge(1)]
Count = Annotated[Integer, Ge(1)]
Positive = Annotated[Number, Gt(0)]


def _divides_an_hour(minutes: int) -> int:
    if 60 % minutes:
        raise problem(f"must divide 60, got {minutes}")
    return minutes


BucketMinutes = Annotated[Integer, Between(1, 60), AfterValidator(_divides_an_hour)]
"""Size of a metrics bucket in minutes; divides an hour so buckets align to the clock."""


class VolumeDetectorParams(Section):
    """Tuning of the volume detector; the defaults are the shipped configuration.

    In the document, ``alerts.volume`` holds every key but `bucket_minutes` and
    `timezone`: those are the document's own `bucket_minutes` and `time_zone`, handed
    down, so the buckets the detector judges are the buckets the pollers write.
    """

    bucket_minutes: SkipJsonSchema[BucketMinutes] = 5
    """Size of one bucket; must match the buckets the Listen flow writes."""
    windows_minutes: Annotated[tuple[Minutes, ...], MinLen(1), AfterValidator(distinct)] = (
        15,
        60,
        180,
        720,
    )
    """Windows over which counts are summed: spike, build-up, sustained storm, slow burn."""
    watch_return_days: Number = 14.0
    """Severity 1 (watch): an excess this series shows less than once in this many days."""
    warning_return_days: Number = 90.0
    """Severity 2 (warning, SMS): an excess rarer than once in this many days."""
    critical_return_days: Number = 365.0
    """Severity 3 (critical, escalation): an excess rarer than once in this many days."""
    level_half_life_hours: Positive = 24.0
    """How fast the overall level follows the data; about one day of memory."""
    daily_half_life_days: Positive = 7.0
    """How fast each hour-of-day factor follows the data."""
    weekly_half_life_weeks: Positive = 4.0
    """How fast each day-of-week factor follows the data."""
    huber_clip: Positive = 3.0
    """Learning clips residuals at this many robust sigmas (Anscombe scale): storms barely teach."""
    shift_acceptance_hours: Positive = 24.0
    """Unusual buckets teach nothing upward at first, the full clip after an excess this long."""
    maxima_days: Integer = 28
    """How many daily maxima the calibration keeps (the newest ones); at least warmup_days."""
    warmup_days: Annotated[Integer, Ge(2)] = 3
    """Daily maxima needed before the baseline is trusted (a spread needs two); until then
    only the static threshold applies."""
    min_gumbel_scale: Positive = 0.5
    """Lower bound of the Gumbel scale, so a near-constant series is not hair-triggered."""
    min_count: Annotated[Integer, Ge(0)] = 10
    """No alert on fewer mentions than this in the window that is unusual."""
    static_count: Count | None = None
    """Warm-up fallback: alert when a window of `static_minutes` holds this many mentions."""
    static_minutes: Minutes = 15
    """Window of the warm-up fallback threshold."""
    timezone: SkipJsonSchema[TimeZoneName] = "UTC"
    """IANA time zone in which hours of day, weekdays and days (for daily maxima) are read."""

    @model_validator(mode="after")
    def _consistent(self) -> VolumeDetectorParams:
        for name, values in (
            ("windows_minutes", self.windows_minutes),
            ("static_minutes", (self.static_minutes,)),
        ):
            for minutes in values:
                if minutes % self.bucket_minutes:
                    raise problem(
                        f"{minutes} is not a multiple of bucket_minutes {self.bucket_minutes}",
                        name,
                    )
        if not (
            1.0 < self.watch_return_days <= self.warning_return_days <= self.critical_return_days
        ):
            raise problem("need 1 < watch <= warning <= critical", "watch_return_days")
        if self.maxima_days < self.warmup_days:
            raise problem(
                f"must be at least warmup_days ({self.warmup_days}), got {self.maxima_days}",
                "maxima_days",
            )
        return self

    @property
    def buckets_per_day(self) -> int:
        return 24 * 60 // self.bucket_minutes


class FiringRuleParams(Section):
    """When an alert starts and ends (`alerts.lifecycle`); the defaults are the shipped
    configuration."""

    confirm_buckets: Count = 1
    """Consecutive unusual buckets before an alert fires (1: fire on the first; early warning)."""
    resolve_after_minutes: Minutes = 60
    """A firing alert resolves after this long without an unusual bucket."""
    cooldown_minutes: Annotated[Integer, Ge(0)] = 360
    """After a resolve, a new alert within this time starts only if it is more severe."""
    recovery_minutes: Minutes = 60
    """What "back to normal" is judged on: windows up to this long, or up to the window
    that raised the alert if that is longer. A 12-hour window still holds a storm for
    12 hours after it ended; the alert should not."""
    reopen_minutes: Annotated[Integer, Ge(0)] = 1440
    """After a resolve, an excess within this time of the episode's last unusual bucket
    reopens the same alert (a "rekindled" update to the team; a page only if it is worse
    than the episode's peak), and each excess extends the time: a storm that flares up
    again within a day is the same episode for the person on call. 0: never reopen."""


class NegativeShareRule(Section):
    """A storm of anger before it is a storm of volume."""

    level: Annotated[Number, Gt(0), Le(1)] = 0.6
    """Alert when at least this share of the window's mentions is negative..."""
    min_mentions: Count = 30
    """...and the window holds at least this many mentions (a share of 3 means nothing)."""
    window_minutes: Minutes = 30
    """A multiple of bucket_minutes."""
    severity: Severity = 2


class VelocityRule(Section):
    """Growth from one window to the next."""

    window_minutes: Minutes = 15
    """Compare the last window with the one before it (a multiple of bucket_minutes)..."""
    growth: Annotated[Number, Gt(1)] = 4.0
    """...and alert when it grew at least this many times..."""
    min_mentions: Count = 40
    """...to at least this many mentions."""
    severity: Severity = 1
    once_baseline_trusted: Flag = False
    """Growth alone alerts while a series' baseline warms up. Once it is trusted, the
    detector's 15-minute window judges growth against the series' own burstiness
    instead, unless this is true: a fixed ratio pages several times a day on a busy
    brand (real Twitter volume of one company, NAB: 4x to 40 in 182 of 15,902 buckets)."""


class StaticThreshold(Section):
    """Ops' own line: at least `min_mentions` in `window_minutes` (per brand and channel)."""

    window_minutes: Minutes
    """A multiple of bucket_minutes."""
    min_mentions: Count
    """Mentions in the window that alert."""
    severity: Severity = 2
    brand: Text | None = None
    """A brand id; none: every brand."""
    channel: Text = ALL_CHANNELS
    """A configured channel, or ALL for the brand across every channel."""


class SilenceRule(Section):
    """When monitoring is blind: an ops email, never a crisis alert."""

    failing_runs: Count = 5
    """A channel whose poller failed this many times in a row is blind."""
    quiet_minutes: Minutes = 120
    """A channel with no mentions for this long is blind (at least bucket_minutes)..."""
    min_expected: Annotated[Number, Ge(0)] = 10.0
    """...when its baseline expected at least this many in that time."""


class EscalationStep(Section):
    """One step of the escalation policy."""

    after_minutes: Minutes
    """Minutes after the alert started, later than the step before."""
    notify: Literal["on_call", "escalation", "business_hours"]
    """Who is told: whoever is on call, the roster's escalation contacts, or the desk."""


def _default_steps() -> tuple[EscalationStep, ...]:
    return (
        EscalationStep(after_minutes=15, notify="on_call"),
        EscalationStep(after_minutes=30, notify="escalation"),
    )


class EscalationPolicy(Section):
    """What happens while nobody acknowledges a warning."""

    steps: Annotated[tuple[EscalationStep, ...], MinLen(1)] = Field(
        default_factory=_default_steps,
        json_schema_extra={
            "default": [
                {"after_minutes": 15, "notify": "on_call"},
                {"after_minutes": 30, "notify": "escalation"},
            ]
        },
    )
    repeat: Annotated[Integer, Between(1, 10)] = 2
    """How many times the whole policy runs while nobody acknowledges."""

    @field_validator("steps")
    @classmethod
    def _later_and_later(cls, steps: tuple[EscalationStep, ...]) -> tuple[EscalationStep, ...]:
        for index in range(1, len(steps)):
            if steps[index].after_minutes <= steps[index - 1].after_minutes:
                raise problem("steps must come later and later", index, "after_minutes")
        return steps

    @property
    def cycle_minutes(self) -> int:
        return self.steps[-1].after_minutes if self.steps else 0


def _one_line(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise problem("must be one line (it goes into an SMS)")
    text = text.strip()
    if not text:
        raise problem("must be a non-empty text, got ''")
    if len(text) > MAX_PAUSE_INSTRUCTIONS:
        raise problem(f"must be at most {MAX_PAUSE_INSTRUCTIONS} characters, got {len(text)}")
    return text


class AlertSettings(Section):
    """Who is told what, when: every threshold of the Warn flow."""

    settle_minutes: Annotated[Integer, Between(1, 180)] = 15
    """Mentions reach their bucket when the channel is next polled: a bucket is judged once
    its channel was polled after it, or after this long without a poll."""
    volume: VolumeDetectorParams = Field(default_factory=VolumeDetectorParams)
    """The volume detector: how unusual a window is against this hour's and weekday's usual."""
    negative_share: NegativeShareRule = Field(default_factory=NegativeShareRule)
    """When the share of negative mentions alerts."""
    velocity: VelocityRule = Field(default_factory=VelocityRule)
    """When growth alone alerts (while a baseline warms up)."""
    static: tuple[StaticThreshold, ...] = ()
    """Ops' own lines per brand and channel; they also alert while the baseline warms up."""
    silence: SilenceRule = Field(default_factory=SilenceRule)
    """When a channel counts as blind (an ops email)."""
    lifecycle: FiringRuleParams = Field(default_factory=FiringRuleParams)
    """When an alert starts, resolves, and may start again."""
    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)
    """Who is told next while nobody acknowledges."""
    pause_instructions: Annotated[str, Strict(), AfterValidator(_one_line)] | None = None
    """The team's own note on pausing, shown in critical alert emails after the command
    that pauses every scheduled post (`stormwatch pause --alert <id>`): a runbook link, a
    scheduler stormwatch is not connected to. One line, at most 100 characters."""

    def static_for(self, brand: str, channel: str) -> list[StaticThreshold]:
        return [
            rule for rule in self.static if rule.channel == channel and rule.brand in (None, brand)
        ]

    def check_fits(
        self, *, bucket_minutes: int, brands: Collection[str], channels: Collection[str]
    ) -> None:
        """Raise a `problem` (keyed below ``alerts``) for a rule that does not fit the rest
        of the document: windows off the bucket grid, thresholds naming unknown brands."""
        windows: list[tuple[int, tuple[str | int, ...]]] = [
            (self.negative_share.window_minutes, ("negative_share", "window_minutes")),
            (self.velocity.window_minutes, ("velocity", "window_minutes")),
        ]
        windows += [
            (rule.window_minutes, ("static", index, "window_minutes"))
            for index, rule in enumerate(self.static)
        ]
        for minutes, at in windows:
            if minutes < bucket_minutes or minutes % bucket_minutes:
                raise problem(f"must be a multiple of bucket_minutes ({bucket_minutes})", *at)
        if self.silence.quiet_minutes < bucket_minutes:
            raise problem(
                f"must be at least {bucket_minutes}, got {self.silence.quiet_minutes}",
                "silence",
                "quiet_minutes",
            )
        for index, rule in enumerate(self.static):
            if rule.brand is not None and rule.brand not in brands:
                raise problem(f"no brand {rule.brand!r} in brands", "static", index, "brand")
            if rule.channel != ALL_CHANNELS and rule.channel not in channels:
                raise problem(
                    f"must be ALL or a configured channel, got {rule.channel!r}",
                    "static",
                    index,
                    "channel",
                )
