"""The `alerts` section of the config document: every threshold, with defaults that work.

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

Every key is optional; a bad value is a `ConfigError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from stormwatch.errors import ConfigError
from stormwatch.model import ALL_CHANNELS
from stormwatch.warn.detector import VolumeDetectorParams
from stormwatch.warn.firing import FiringRuleParams

ESCALATION_TARGETS = ("on_call", "escalation", "business_hours")


@dataclass(frozen=True, slots=True)
class NegativeShareRule:
    level: float = 0.6
    """Alert when at least this share of the window's mentions is negative..."""
    min_mentions: int = 30
    """...and the window holds at least this many mentions (a share of 3 means nothing)."""
    window_minutes: int = 30
    severity: int = 2


@dataclass(frozen=True, slots=True)
class VelocityRule:
    window_minutes: int = 15
    """Compare the last window with the one before it..."""
    growth: float = 4.0
    """...and alert when it grew at least this many times..."""
    min_mentions: int = 40
    """...to at least this many mentions."""
    severity: int = 1
    once_baseline_trusted: bool = False
    """Growth alone alerts while a series' baseline warms up. Once it is trusted, the
    detector's 15-minute window judges growth against the series' own burstiness
    instead, unless this is true: a fixed ratio pages several times a day on a busy
    brand (real Twitter volume of one company, NAB: 4x to 40 in 182 of 15,902 buckets)."""


@dataclass(frozen=True, slots=True)
class StaticThreshold:
    """Ops' own line: at least `min_mentions` in `window_minutes` (per brand and channel)."""

    window_minutes: int
    min_mentions: int
    severity: int = 2
    brand: str | None = None
    """None: every brand."""
    channel: str = ALL_CHANNELS


@dataclass(frozen=True, slots=True)
class SilenceRule:
    failing_runs: int = 5
    """A channel whose poller failed this many times in a row is blind."""
    quiet_minutes: int = 120
    """A channel with no mentions for this long is blind..."""
    min_expected: float = 10.0
    """...when its baseline expected at least this many in that time."""


@dataclass(frozen=True, slots=True)
class EscalationStep:
    after_minutes: int
    notify: str  # one of ESCALATION_TARGETS


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    steps: tuple[EscalationStep, ...] = (
        EscalationStep(15, "on_call"),
        EscalationStep(30, "escalation"),
    )
    repeat: int = 2
    """How many times the whole policy runs while nobody acknowledges."""

    @property
    def cycle_minutes(self) -> int:
        return self.steps[-1].after_minutes if self.steps else 0


DEFAULT_PAUSE_INSTRUCTIONS = "in every scheduler"
"""What critical alerts say about pausing scheduled posts until a team names its own way."""
MAX_PAUSE_INSTRUCTIONS = 100
"""Long enough for a runbook link or a menu path; a critical SMS has about 40 characters
left for it in one segment, and the email always carries it whole."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    settle_minutes: int = 15
    """Mentions reach their bucket when the channel is next polled: a bucket is judged once
    its channel was polled after it, or after this long without a poll."""
    volume: VolumeDetectorParams = field(default_factory=VolumeDetectorParams)
    negative_share: NegativeShareRule = NegativeShareRule()
    velocity: VelocityRule = VelocityRule()
    static: tuple[StaticThreshold, ...] = ()
    silence: SilenceRule = SilenceRule()
    lifecycle: FiringRuleParams = field(default_factory=FiringRuleParams)
    escalation: EscalationPolicy = EscalationPolicy()
    pause_instructions: str = DEFAULT_PAUSE_INSTRUCTIONS
    """How the team pauses every scheduled post now: shown in critical alerts."""

    def static_for(self, brand: str, channel: str) -> list[StaticThreshold]:
        return [
            rule for rule in self.static if rule.channel == channel and rule.brand in (None, brand)
        ]


def _mapping(value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"must be a mapping, got {type(value).__name__}")
    return value


def _typed(cls: Any, values: Mapping[str, Any], path: str, **fixed: Any) -> Any:
    """Build a settings dataclass from a mapping, each value checked against its field's type."""
    known = {item.name: item for item in fields(cls)}
    kwargs: dict[str, Any] = dict(fixed)
    for name, value in values.items():
        if name not in known or name in fixed:
            raise ConfigError(f"{path}.{name}", "unknown key (typo?)")
        kwargs[name] = _coerce(f"{path}.{name}", str(known[name].type), value)
    try:
        return cls(**kwargs)
    except ValueError as error:
        key, _, problem = str(error).partition(": ")
        if key.startswith("alerts."):
            raise ConfigError(key, problem) from None
        raise ConfigError(path, str(error)) from None


def _coerce(path: str, kind: str, value: object) -> object:
    """`kind` is the field's annotation as written (annotations are strings here)."""
    if value is None and "None" in kind:
        return None
    if kind.startswith("tuple[int"):
        if not isinstance(value, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in value
        ):
            raise ConfigError(path, f"must be a list of whole numbers, got {value!r}")
        return tuple(value)
    if kind.startswith("str"):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(path, f"must be a non-empty string, got {value!r}")
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(path, f"must be a number, got {value!r}")
    if kind.startswith("int"):
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(path, f"must be a whole number, got {value}")
        return int(value)
    return float(value)


def _positive(path: str, value: float, *, low: float = 1) -> None:
    if value < low:
        raise ConfigError(path, f"must be at least {low}, got {value}")


def _severity(path: str, value: int) -> None:
    if value not in (1, 2, 3):
        raise ConfigError(path, f"must be 1 (watch), 2 (warning) or 3 (critical), got {value}")


def _window(path: str, minutes: int, bucket_minutes: int) -> None:
    if minutes < bucket_minutes or minutes % bucket_minutes:
        raise ConfigError(path, f"must be a multiple of bucket_minutes ({bucket_minutes})")


def parse_alerts(
    document: object,
    *,
    bucket_minutes: int,
    time_zone: str,
    brands: Sequence[str],
    channels: Sequence[str],
) -> AlertSettings:
    root = _mapping(document, "alerts")
    known = {
        "volume",
        "negative_share",
        "velocity",
        "static",
        "silence",
        "lifecycle",
        "escalation",
        "pause_instructions",
        "settle_minutes",
    }
    for name in root:
        if name not in known:
            raise ConfigError(f"alerts.{name}", "unknown key (typo?)")
    volume = _typed(
        VolumeDetectorParams,
        _mapping(root.get("volume"), "alerts.volume"),
        "alerts.volume",
        bucket_minutes=bucket_minutes,
        timezone=time_zone,
    )
    negative = _typed(
        NegativeShareRule,
        _mapping(root.get("negative_share"), "alerts.negative_share"),
        "alerts.negative_share",
    )
    if not 0 < negative.level <= 1:
        raise ConfigError("alerts.negative_share.level", f"must be in (0, 1], got {negative.level}")
    _positive("alerts.negative_share.min_mentions", negative.min_mentions)
    _window("alerts.negative_share.window_minutes", negative.window_minutes, bucket_minutes)
    _severity("alerts.negative_share.severity", negative.severity)
    velocity = _typed(
        VelocityRule, _mapping(root.get("velocity"), "alerts.velocity"), "alerts.velocity"
    )
    _window("alerts.velocity.window_minutes", velocity.window_minutes, bucket_minutes)
    if velocity.growth <= 1:
        raise ConfigError("alerts.velocity.growth", f"must be above 1, got {velocity.growth}")
    _positive("alerts.velocity.min_mentions", velocity.min_mentions)
    _severity("alerts.velocity.severity", velocity.severity)
    silence = _typed(SilenceRule, _mapping(root.get("silence"), "alerts.silence"), "alerts.silence")
    _positive("alerts.silence.failing_runs", silence.failing_runs)
    _positive("alerts.silence.quiet_minutes", silence.quiet_minutes, low=bucket_minutes)
    settle = root.get("settle_minutes", AlertSettings().settle_minutes)
    if isinstance(settle, bool) or not isinstance(settle, int) or not 1 <= settle <= 180:
        raise ConfigError("alerts.settle_minutes", f"must be 1 to 180, got {settle!r}")
    return AlertSettings(
        settle_minutes=settle,
        pause_instructions=_pause_instructions(root.get("pause_instructions")),
        volume=volume,
        negative_share=negative,
        velocity=velocity,
        static=_static(root.get("static"), bucket_minutes, brands, channels),
        silence=silence,
        lifecycle=_typed(
            FiringRuleParams,
            _mapping(root.get("lifecycle"), "alerts.lifecycle"),
            "alerts.lifecycle",
        ),
        escalation=_escalation(root.get("escalation")),
    )


def _pause_instructions(value: object) -> str:
    path = "alerts.pause_instructions"
    if value is None:
        return DEFAULT_PAUSE_INSTRUCTIONS
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, f"must be a non-empty text, got {value!r}")
    if "\n" in value or "\r" in value:
        raise ConfigError(path, "must be one line (it goes into an SMS)")
    text = value.strip()
    if len(text) > MAX_PAUSE_INSTRUCTIONS:
        raise ConfigError(
            path, f"must be at most {MAX_PAUSE_INSTRUCTIONS} characters, got {len(text)}"
        )
    return text


def _static(
    value: object, bucket_minutes: int, brands: Sequence[str], channels: Sequence[str]
) -> tuple[StaticThreshold, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError("alerts.static", "must be a list of thresholds")
    thresholds = []
    for index, item in enumerate(value):
        path = f"alerts.static[{index}]"
        entry = _mapping(item, path)
        for required in ("window_minutes", "min_mentions"):
            if required not in entry:
                raise ConfigError(f"{path}.{required}", "required")
        rule = _typed(StaticThreshold, entry, path)
        _window(f"{path}.window_minutes", rule.window_minutes, bucket_minutes)
        _positive(f"{path}.min_mentions", rule.min_mentions)
        _severity(f"{path}.severity", rule.severity)
        if rule.brand is not None and rule.brand not in brands:
            raise ConfigError(f"{path}.brand", f"no brand {rule.brand!r} in brands")
        if rule.channel != ALL_CHANNELS and rule.channel not in channels:
            raise ConfigError(
                f"{path}.channel", f"must be ALL or a configured channel, got {rule.channel!r}"
            )
        thresholds.append(rule)
    return tuple(thresholds)


def _escalation(value: object) -> EscalationPolicy:
    section = _mapping(value, "alerts.escalation")
    for name in section:
        if name not in ("steps", "repeat"):
            raise ConfigError(f"alerts.escalation.{name}", "unknown key (typo?)")
    default = EscalationPolicy()
    repeat = section.get("repeat", default.repeat)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 10:
        raise ConfigError("alerts.escalation.repeat", f"must be 1 to 10, got {repeat!r}")
    raw_steps = section.get("steps")
    if raw_steps is None:
        return EscalationPolicy(default.steps, repeat)
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ConfigError("alerts.escalation.steps", "must be a non-empty list")
    steps = []
    previous = 0
    for index, item in enumerate(raw_steps):
        path = f"alerts.escalation.steps[{index}]"
        entry = _mapping(item, path)
        after = entry.get("after_minutes")
        target = entry.get("notify")
        if isinstance(after, bool) or not isinstance(after, int) or after < 1:
            raise ConfigError(f"{path}.after_minutes", f"must be a positive integer, got {after!r}")
        if after <= previous:
            raise ConfigError(f"{path}.after_minutes", "steps must come later and later")
        if target not in ESCALATION_TARGETS:
            raise ConfigError(f"{path}.notify", f"must be one of {', '.join(ESCALATION_TARGETS)}")
        extra = set(entry) - {"after_minutes", "notify"}
        if extra:
            raise ConfigError(f"{path}.{sorted(extra)[0]}", "unknown key (typo?)")
        steps.append(EscalationStep(after, str(target)))
        previous = after
    return EscalationPolicy(tuple(steps), repeat)
