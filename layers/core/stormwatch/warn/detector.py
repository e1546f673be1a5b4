"""Volume anomaly detection for mention counts, one series at a time, in a stream.

A series is the mention count of one brand (over one channel or all of them) in
fixed buckets. `VolumeDetector.observe` takes each bucket's count in time order
and says how unusual it is; `to_state`/`from_state` carry everything the
detector knows between evaluator runs as a small JSON-ready dict.

How it judges a bucket (docs/decisions/0003-volume-detector.md has the why):

1. Expected count: level x hour-of-day factor x day-of-week factor, each a ratio of
   discounted sums of mentions and of exposure (Poisson rate estimators, additive in
   counts, so a sparse series of 0-1 mentions cannot blow them up): the level with a
   one-day memory, the day-of-week factors per bucket against level x hour-of-day,
   the hour-of-day factors once a day as each hour's share of its day. Every count
   is Huber-clipped on the Anscombe scale before it is learned, so a storm moves the
   baseline only by a bounded amount per bucket (Gelper, Fried & Croux 2010). The
   clip widens the longer an excess lasts, so a brand whose volume doubles for good
   is accepted as the new normal within days instead of alerting forever.
2. Evidence: over each window (15 min, 1 h, 3 h, 12 h by default) the observed and the
   expected counts are compared on the Anscombe scale, 2*sqrt(x + 3/8), where a
   Poisson count has unit variance. Social counts are overdispersed and bursty,
   so this z is not read against a normal table: it is calibrated per series. In the
   windows of an hour or more a short spike that has died down (a run of at most six
   buckets above 4x its expected count, followed by three buckets at most the expected
   count) counts at most 4x its expected count (at least 4), so the spikes of a sparse series do not
   set the bar that a slow rise must pass (decision 0018); a burst still under way, or
   a long one, counts whole, and the assessment reports the whole count.
3. Calibration: the largest z of each day (per window) is kept for the last weeks,
   capped at the alert level so that a storm does not raise the bar; a Gumbel fit
   to these daily maxima turns today's z into a return period ("a 1-in-N-days
   excess for this series"). Severity 1/2/3 = return period of at least 14 / 90 /
   365 days by default, Bonferroni-adjusted over the windows.
4. Warm-up: until enough daily maxima exist the detector says it is warming up and
   only the static threshold (if configured) can raise an alert.

Its tuning, `VolumeDetectorParams`, is the config document's ``alerts.volume`` section
(`stormwatch.config.alerts`), documented there once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from statistics import NormalDist
from typing import Any, Final, Literal

from stormwatch.config.alerts import VolumeDetectorParams

STATE_VERSION: Final = 3
# Version-1 states (multiplicative Holt-Winters factors) and version-2 states (day-of-week
# factors from centred 7-day windows) are not converted: `from_state` starts such a
# series afresh, see there.
_MIGRATE_AFRESH_VERSIONS: Final = frozenset({1, 2})
HOURS_PER_DAY: Final = 24
DAYS_PER_WEEK: Final = 7
# E|Z| for a standard normal: turns a mean absolute residual into a sigma.
_MEAN_ABS_NORMAL: Final = math.sqrt(2.0 / math.pi)
_EULER_GAMMA: Final = 0.5772156649015329
# A return period beyond this is reported as this (it only has to sort above "critical").
_MAX_RETURN_DAYS: Final = 1.0e6
# Counts beyond this are clamped: far above any real bucket, far below float overflow.
_MAX_COUNT: Final = 10**15
_MIN_EXPECTED: Final = 1.0e-3
# Prior weight, in mentions, of "no rhythm" for each hour-of-day and each day-of-week
# factor (a gamma prior of mean 1 on the factor, i.e. a Dirichlet prior on the shares).
# A slot whose own evidence is a few mentions (relative Poisson error ~50 % or more)
# stays near 1; with dozens of mentions the data decide. Dense series never notice it.
_PRIOR_MENTIONS: Final = 4.0
# Poisson noise is the least a count can scatter: on the Anscombe scale its sigma is 1.
# Below a mean of about one the transform under-states it, so the learning clip never
# uses a smaller robust sigma than this.
_MIN_CLIP_SIGMA: Final = 1.0

Basis = Literal["baseline", "static", "none"]


@dataclass(frozen=True, slots=True)
class DetectorOptions:
    """Design choices, measured by `bench.nab --cv` (decisions 0017, 0018).

    Not part of the configuration: the defaults are the shipped detector (the spike cap
    of decision 0018 on; everything else off), and a detector with default options saves
    exactly the state it always did (the cap is worked out from the stored buckets).
    """

    evidence: Literal["anscombe", "poisson"] = "anscombe"
    """How a window's excess becomes a z: the Anscombe residual (shipped), or, where the
    window expects fewer than `_POISSON_EXACT_BELOW` mentions, the normal score of the
    exact (mid-p) Poisson upper tail - counts of 0-3 a bucket are not continuous."""
    poisson_return_below: float = 0.0
    """Where a window expects fewer mentions than this, its return period is also bounded
    by the Poisson one (tail probability x judgements a day): an excess a Poisson count
    shows daily is not a 1-in-N-days event however the daily maxima spread. 0: off."""
    storm_days: Literal["cap", "skip"] = "cap"
    """A day whose maximum passed the alert level is filed at that level ("cap", shipped)
    or not filed at all ("skip"), so a week-long storm cannot raise the bar step by step."""
    hold_hours: float = 0.0
    """For this long after the last unusual bucket the episode counts as open: normal
    buckets teach nothing upward and do not wind the excess clock back. 0: off."""
    trim_spikes: float = 4.0
    """In windows of an hour or more, each bucket counts at most this many times its
    expected count (and at least this many mentions): a spike of one bucket stays the
    short windows' business, so it does not set the long windows' bar, while a ramp of
    many moderately busy buckets passes whole. 0: off. Shipped with `trim_runs`,
    `trim_quiet` and `trim_release` (decision 0018): alone it loses a 100x three-hour
    burst on the bursty set. The count reported is the whole one
    (`Assessment.window_count`), the capped one is what is judged."""
    trim_runs: int = 6
    """With `trim_spikes`: cap only runs of at most this many buckets above the cap that
    have ended inside the window (a burst still under way, or a long one, counts whole).
    0: every bucket above the cap."""
    trim_quiet: int = 3
    """With `trim_spikes` and `trim_runs`: a run above the cap ends only after this many
    buckets in a row well below the cap (at most `trim_release` times it); buckets
    between that and the cap keep it going. Its length is from its first bucket above
    the cap to its last bucket not well below it, read over the whole stored history
    (not cut at the window's edge). A burst that flickers around the cap is then one
    long run and counts whole; an isolated spike is still capped once it has ended.
    0: a run ends at the first bucket not above the cap (`trim_runs` as first tried)."""
    trim_release: float = 0.25
    """With `trim_quiet`: a bucket at most this fraction of the cap is well below it
    (0.25 of a cap of 4x the expected count: at most the expected count)."""
    trim_longest: int = 0
    """With `trim_spikes`: cap only in windows of at most this many minutes, so the
    longest windows keep the whole counts and their bars (0: every window of an hour or
    more)."""


_DEFAULT_OPTIONS: Final = DetectorOptions()
# Above this many expected mentions in a window the Anscombe residual is the Poisson score.
_POISSON_EXACT_BELOW: Final = 200.0
_NORMAL: Final = NormalDist()


@dataclass(frozen=True, slots=True)
class Assessment:
    """The detector's judgement of one bucket."""

    bucket_start: datetime
    """Start of the bucket (aware, UTC, aligned to the bucket size)."""
    bucket_minutes: int
    count: int
    """The count that was judged (the latest one given for this bucket)."""
    expected: float | None
    """Expected count of this bucket from the seasonal baseline (None before any history)."""
    severity: int
    """0 normal, 1 watch, 2 warning, 3 critical."""
    warming_up: bool
    """True while the baseline has too little history; then only the static threshold applies."""
    basis: Basis
    """What the severity rests on: the learned baseline, the static threshold, or nothing yet."""
    return_period_days: float | None = None
    """How rare the most unusual window is for this series (None while warming up)."""
    window_minutes: int | None = None
    """The window that drove the judgement."""
    window_count: int = 0
    """Mentions in that window."""
    window_expected: float | None = None
    """Expected mentions in that window."""
    window_judged: int | None = None
    """The count the return period was judged on, where short isolated spikes were
    capped in that window (`DetectorOptions.trim_spikes`); None: the whole count."""
    stale: bool = False
    """The bucket is older than one already seen: it was ignored and the state is unchanged."""
    window_severities: tuple[tuple[int, int], ...] = ()
    """(minutes, severity) of each window judged; `severity` is the highest of them."""
    reason: str = ""
    """One line for people: why this severity."""

    @property
    def anomalous(self) -> bool:
        return self.severity >= 1


@dataclass(frozen=True, slots=True)
class _WindowEvidence:
    minutes: int
    count: int
    """The count judged (short isolated spikes capped in the long windows)."""
    expected: float
    z: float
    whole: int
    """The count of mentions in the window, nothing capped."""


@dataclass(frozen=True, slots=True)
class _Evaluation:
    index: int
    expected: float | None
    windows: tuple[_WindowEvidence, ...]
    assessment: Assessment


@dataclass(frozen=True, slots=True)
class _Gumbel:
    location: float
    scale: float

    def threshold(self, return_days: float) -> float:
        return self.location - self.scale * math.log(-math.log1p(-1.0 / return_days))

    def return_days(self, z: float) -> float:
        reduced = (z - self.location) / self.scale
        if reduced < -30.0:
            return 1.0
        exceed = -math.expm1(-math.exp(-reduced))
        if exceed <= 0.0:
            return _MAX_RETURN_DAYS
        return min(1.0 / exceed, _MAX_RETURN_DAYS)


def _gumbel_fit(maxima: list[float], min_scale: float) -> _Gumbel:
    """Fit by L-moments (Hosking 1990): steadier than moments on a few weeks of maxima,
    yet, unlike a median/MAD fit, it still widens when the upper tail is heavy."""
    ordered = sorted(maxima)
    n = len(ordered)
    b0 = sum(ordered) / n
    b1 = sum(i * value for i, value in enumerate(ordered)) / (n * (n - 1))
    scale = max((2.0 * b1 - b0) / math.log(2.0), min_scale)
    return _Gumbel(location=b0 - _EULER_GAMMA * scale, scale=scale)


def _anscombe(count: float) -> float:
    return 2.0 * math.sqrt(count + 0.375)


def _anscombe_expected(expected: float) -> float:
    # E[2*sqrt(X + 3/8)] ~ 2*sqrt(mu + 1/8) for a Poisson count of mean mu.
    return 2.0 * math.sqrt(expected + 0.125)


def _count_at(expected: float, residual: float) -> float:
    """The count whose Anscombe residual against `expected` is `residual` (never negative)."""
    root = max(_anscombe_expected(expected) + residual, 0.0) / 2.0
    return max(root * root - 0.375, 0.0)


def _gain(half_life_observations: float) -> float:
    """Smoothing weight of one observation for the given half-life (in observations)."""
    return -math.expm1(-math.log(2.0) / half_life_observations)


def _spike_cap(mean: float, trim: float) -> int:
    """The most a bucket counts in a long window (`DetectorOptions.trim_spikes`): `trim`
    times its expected count, and at least `trim` mentions."""
    return math.ceil(max(trim * mean, trim))


class VolumeDetector:
    """Streaming, serialisable volume detector for one series.

    Buckets must come in time order. Giving the same bucket again replaces its count
    (the evaluator re-reads the still-filling current bucket every minute); the
    judgement is then made again from the same history, so it is idempotent. A
    bucket is learned from only once a later bucket arrives, when it is final. A
    bucket older than the newest one seen is ignored (`Assessment.stale`). A missing
    bucket is "unknown", not zero: pass 0 for a bucket that is known to be empty.
    """

    def __init__(
        self, params: VolumeDetectorParams | None = None, options: DetectorOptions | None = None
    ) -> None:
        self.params = params or VolumeDetectorParams()
        self.options = options or _DEFAULT_OPTIONS
        self._last_anomalous: int | None = None
        p = self.params
        self._tz = _zone(p.timezone)
        self._bucket_seconds = p.bucket_minutes * 60
        self._window_buckets = tuple(m // p.bucket_minutes for m in p.windows_minutes)
        self._static_buckets = p.static_minutes // p.bucket_minutes
        self._history_buckets = max(*self._window_buckets, self._static_buckets)
        self._per_hour = 60.0 / p.bucket_minutes
        # Discount per learned bucket (level), per learned day (hour-of-day shares) and per
        # learned bucket of the same weekday (day-of-week factors).
        self._level_keep = 1.0 - _gain(p.level_half_life_hours * self._per_hour)
        self._daily_keep = 1.0 - _gain(p.daily_half_life_days)
        self._weekly_keep = 1.0 - _gain(p.weekly_half_life_weeks * p.buckets_per_day)
        self._scale_gain = _gain(p.daily_half_life_days * p.buckets_per_day)

        # The baseline as discounted sums of mentions and of exposure (ratio estimators).
        self._level_mentions = 0.0
        self._level_exposure = 0.0
        self._hour_mentions = [0.0] * HOURS_PER_DAY
        self._weekday_mentions = [0.0] * DAYS_PER_WEEK
        self._weekday_exposure = [0.0] * DAYS_PER_WEEK
        self._scale = 1.0
        self._scale_n = 0
        self._learned = 0
        self._history: list[tuple[int, int, float | None]] = []
        # How many of `_history` are above the spike cap: none, and no run can be capped.
        self._spikes_in_history = 0
        self._maxima: list[list[float]] = [[] for _ in self._window_buckets]
        self._day: int | None = None
        self._day_hour_counts = [0.0] * HOURS_PER_DAY
        self._day_hour_buckets = [0] * HOURS_PER_DAY
        self._day_learned_before = 0
        self._day_max: list[float | None] = [None] * len(self._window_buckets)
        self._excess_buckets = 0
        self._pending: tuple[int, int] | None = None
        # Derived from `_maxima` only; refreshed whenever a day is filed.
        self._fits: tuple[_Gumbel, ...] = ()
        # Derived from the seasonal sums only; refreshed whenever a day is learned.
        self._daily = [1.0] * HOURS_PER_DAY
        self._weekly = [1.0] * DAYS_PER_WEEK
        # The judgement of the pending bucket, reused when it is learned from (same state).
        self._pending_evaluation: _Evaluation | None = None
        # The long windows' counts of the last judgement (DetectorOptions.trim_quiet).
        self._hysteresis_cache: (
            tuple[tuple[Any, ...], list[tuple[int, int, float | None]]] | None
        ) = None

    # ------------------------------------------------------------------ public

    def observe(self, bucket_start: datetime, count: int) -> Assessment:
        """Judge `count` mentions in the bucket starting at `bucket_start` (timezone-aware)."""
        if bucket_start.tzinfo is None:
            raise ValueError("bucket_start must be timezone-aware")
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"count must be an int, got {type(count).__name__}")
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        count = min(count, _MAX_COUNT)
        index = math.floor(bucket_start.timestamp() / self._bucket_seconds)
        pending = self._pending
        if pending is not None and index < pending[0]:
            return self._stale(index, count, pending[0])
        if pending is None or index > pending[0]:
            if pending is not None:
                self._commit(*pending)
            self._roll_day(index)
        self._pending = (index, count)
        self._pending_evaluation = self._evaluate(index, count)
        return self._pending_evaluation.assessment

    @property
    def warming_up(self) -> bool:
        return len(self._maxima[0]) < self.params.warmup_days

    @property
    def newest_bucket(self) -> datetime | None:
        """Start of the newest bucket observed (the one still open to re-observation)."""
        if self._pending is None:
            return None
        return datetime.fromtimestamp(self._pending[0] * self._bucket_seconds, UTC)

    def expected_count(self, bucket_start: datetime) -> float | None:
        """The baseline's expected count for a bucket (None before any history)."""
        return self._expected(math.floor(bucket_start.timestamp() / self._bucket_seconds))

    def to_state(self) -> dict[str, Any]:
        """Everything needed to carry on later, JSON-ready (a few KB)."""
        state = self._core_state()
        if self.options.hold_hours:
            state["last_anomalous"] = self._last_anomalous
        return state

    def _core_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "bucket_minutes": self.params.bucket_minutes,
            "windows_minutes": list(self.params.windows_minutes),
            "timezone": self.params.timezone,
            "level_mentions": self._level_mentions,
            "level_exposure": self._level_exposure,
            "hour_mentions": list(self._hour_mentions),
            "weekday_mentions": list(self._weekday_mentions),
            "weekday_exposure": list(self._weekday_exposure),
            "scale": self._scale,
            "scale_n": self._scale_n,
            "learned": self._learned,
            "history": [list(entry) for entry in self._history],
            "maxima": [list(m) for m in self._maxima],
            "day": self._day,
            "day_hour_counts": list(self._day_hour_counts),
            "day_hour_buckets": list(self._day_hour_buckets),
            "day_learned_before": self._day_learned_before,
            "day_max": list(self._day_max),
            "excess_buckets": self._excess_buckets,
            "pending": None if self._pending is None else list(self._pending),
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        params: VolumeDetectorParams | None = None,
        options: DetectorOptions | None = None,
    ) -> VolumeDetector:
        """Rebuild a detector saved by `to_state`.

        Raises ValueError when the state is malformed or was made with another bucket
        size, windows or time zone (its numbers would mean something else): start a
        fresh detector then.

        A version-1 state (before the baseline became a rate estimator) or a version-2
        state (day-of-week factors from centred 7-day windows) is migrated by starting
        afresh: it gives a new detector with no history, whose `newest_bucket` is None,
        so the evaluator replays the stored buckets into it as for a new series. Its
        factors are what version 3 replaces (on sparse series the version-1 ones had
        blown up) and its daily maxima were measured against them.
        """
        detector = cls(params, options)
        p = detector.params
        try:
            version = state["version"]
            if version != STATE_VERSION and version not in _MIGRATE_AFRESH_VERSIONS:
                raise ValueError(f"state version {version!r}, expected {STATE_VERSION}")
            saved = (state["bucket_minutes"], tuple(state["windows_minutes"]), state["timezone"])
            if saved != (p.bucket_minutes, p.windows_minutes, p.timezone):
                raise ValueError(
                    f"state made for buckets/windows/time zone {saved}, "
                    f"params say {(p.bucket_minutes, p.windows_minutes, p.timezone)}"
                )
            if version != STATE_VERSION:
                return detector
            detector._level_mentions = float(state["level_mentions"])
            detector._level_exposure = float(state["level_exposure"])
            detector._hour_mentions = _floats(state["hour_mentions"], HOURS_PER_DAY)
            detector._weekday_mentions = _floats(state["weekday_mentions"], DAYS_PER_WEEK)
            detector._weekday_exposure = _floats(state["weekday_exposure"], DAYS_PER_WEEK)
            detector._scale = float(state["scale"])
            detector._scale_n = int(state["scale_n"])
            detector._learned = int(state["learned"])
            detector._history = [
                (int(i), int(c), None if e is None else float(e)) for i, c, e in state["history"]
            ]
            detector._spikes_in_history = sum(
                detector._above_cap(c, e) for _, c, e in detector._history
            )
            maxima = state["maxima"]
            if len(maxima) != len(detector._window_buckets):
                raise ValueError("one list of maxima per window expected")
            detector._maxima = [[float(v) for v in m] for m in maxima]
            detector._day = None if state["day"] is None else int(state["day"])
            detector._day_hour_counts = _floats(state["day_hour_counts"], HOURS_PER_DAY)
            detector._day_hour_buckets = _ints(state["day_hour_buckets"], HOURS_PER_DAY)
            detector._day_learned_before = int(state["day_learned_before"])
            day_max = state["day_max"]
            if len(day_max) != len(detector._window_buckets):
                raise ValueError("one daily maximum per window expected")
            detector._day_max = [None if v is None else float(v) for v in day_max]
            detector._excess_buckets = int(state["excess_buckets"])
            pending = state["pending"]
            detector._pending = None if pending is None else (int(pending[0]), int(pending[1]))
            last_anomalous = state.get("last_anomalous")
            detector._last_anomalous = None if last_anomalous is None else int(last_anomalous)
            detector._refit()
            detector._refresh_factors()
        except (KeyError, TypeError, IndexError) as error:
            raise ValueError(f"malformed detector state: {error!r}") from error
        return detector

    # ------------------------------------------------------------------ judging

    def _local(self, index: int) -> datetime:
        return datetime.fromtimestamp(index * self._bucket_seconds, self._tz)

    def _expected(self, index: int) -> float | None:
        if self._level_exposure <= 0.0:
            return None
        level = self._level_mentions / self._level_exposure
        local = self._local(index)
        seasonal = self._daily[local.hour] * self._weekly[local.weekday()]
        return max(level * seasonal, _MIN_EXPECTED)

    def _window_sums(
        self, index: int, count: int, expected: float | None, width: int
    ) -> tuple[int, float]:
        trim = self.options.trim_spikes if self._trims(width) else 0.0

        def counted(value: int, mean: float | None) -> int:
            if not trim or mean is None:
                return value
            return min(value, _spike_cap(mean, trim))

        if trim and self.options.trim_runs and self.options.trim_quiet:
            if not self._spikes_in_history:
                # No stored bucket above the cap: no run has ended to be capped (one this
                # bucket opens is under way and counts whole). Most buckets of most series.
                return self._whole_sums(index, count, expected, width)
            return self._window_sums_hysteresis(index, count, expected, width, trim)
        if trim and self.options.trim_runs:
            return self._window_sums_isolated(index, count, expected, width, trim)
        total = counted(count, expected)
        expected_total = expected or 0.0
        oldest = index - width + 1
        for past_index, past_count, past_expected in reversed(self._history):
            if past_index < oldest:
                break
            total += counted(past_count, past_expected)
            expected_total += past_expected or 0.0
        return total, expected_total

    def _trims(self, width: int) -> bool:
        """Whether a window of `width` buckets caps spikes (`DetectorOptions.trim_spikes`)."""
        minutes = width * self.params.bucket_minutes
        longest = self.options.trim_longest
        return (
            bool(self.options.trim_spikes) and minutes >= 60 and (not longest or minutes <= longest)
        )

    def _above_cap(self, value: int, mean: float | None) -> bool:
        """Whether a bucket is above the spike cap (`DetectorOptions.trim_spikes`)."""
        trim = self.options.trim_spikes
        return bool(trim) and mean is not None and value > _spike_cap(mean, trim)

    def _whole_sums(
        self, index: int, count: int, expected: float | None, width: int
    ) -> tuple[int, float]:
        """A window's mentions and expected mentions, nothing capped."""
        total, expected_total = count, expected or 0.0
        oldest = index - width + 1
        for past_index, past_count, past_expected in reversed(self._history):
            if past_index < oldest:
                break
            total += past_count
            expected_total += past_expected or 0.0
        return total, expected_total

    def _window_sums_isolated(
        self, index: int, count: int, expected: float | None, width: int, trim: float
    ) -> tuple[int, float]:
        """`_window_sums` capping only short runs above the cap that ended in the window."""
        newest_first: list[tuple[int, float | None]] = [(count, expected)]
        oldest = index - width + 1
        for past_index, past_count, past_expected in reversed(self._history):
            if past_index < oldest:
                break
            newest_first.append((past_count, past_expected))
        total, expected_total = 0, 0.0
        run: list[tuple[int, int]] = []  # (count, cap) of the run above the cap, newest first
        ended = False  # a bucket below the cap came after the run
        for value, mean in newest_first:
            expected_total += mean or 0.0
            cap = _spike_cap(mean, trim) if mean is not None else None
            if cap is not None and value > cap:
                run.append((value, cap))
                continue
            total += value + self._run_total(run, ended)
            run, ended = [], True
        total += self._run_total(run, ended)
        return total, expected_total

    def _window_sums_hysteresis(
        self, index: int, count: int, expected: float | None, width: int, trim: float
    ) -> tuple[int, float]:
        """`_window_sums` capping only short runs that ended in quiet (`trim_quiet`)."""
        counted = self._hysteresis_counts(index, count, expected, trim)
        total, expected_total = 0, 0.0
        oldest = index - width + 1
        for past_index, value, mean in reversed(counted):
            if past_index < oldest:
                break
            total += value
            expected_total += mean or 0.0
        return total, expected_total

    def _hysteresis_counts(
        self, index: int, count: int, expected: float | None, trim: float
    ) -> list[tuple[int, int, float | None]]:
        """Every stored bucket and this one, oldest first, as the long windows count them.

        Depends only on the history and this bucket (not on the window), so it is worked
        out once per judgement.
        """
        key = (
            index,
            count,
            expected,
            len(self._history),
            self._history[-1][0] if self._history else None,
        )
        cached = self._hysteresis_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        options = self.options
        entries = [*self._history, (index, count, expected)]
        counted = [(i, c, e) for i, c, e in entries]
        run_start: int | None = None  # position of the open run's first bucket above the cap
        last_busy = 0  # position of its last bucket not well below the cap
        quiet = 0  # buckets well below the cap since then
        for position, (_, value, mean) in enumerate(entries):
            cap = _spike_cap(mean, trim) if mean is not None else None
            above = cap is not None and value > cap
            calm = cap is None or value <= options.trim_release * cap
            if run_start is None:
                if above:
                    run_start, last_busy, quiet = position, position, 0
                continue
            if not calm:
                last_busy, quiet = position, 0
                continue
            quiet += 1
            if quiet < options.trim_quiet:
                continue
            # The run has ended in quiet: cap its buckets above the cap if it was short.
            if last_busy - run_start + 1 <= options.trim_runs:
                for at in range(run_start, last_busy + 1):
                    at_index, at_value, at_mean = entries[at]
                    if at_mean is not None:
                        at_cap = _spike_cap(at_mean, trim)
                        counted[at] = (at_index, min(at_value, at_cap), at_mean)
            run_start = None
        self._hysteresis_cache = (key, counted)
        return counted

    def _run_total(self, run: list[tuple[int, int]], ended: bool) -> int:
        if ended and len(run) <= self.options.trim_runs:
            return sum(cap for _, cap in run)
        return sum(value for value, _ in run)

    def _evaluate(self, index: int, count: int) -> _Evaluation:
        p = self.params
        start = datetime.fromtimestamp(index * self._bucket_seconds, UTC)
        expected = self._expected(index)
        evidence: list[_WindowEvidence] = []
        if expected is not None:
            for minutes, width in zip(p.windows_minutes, self._window_buckets, strict=True):
                total, expected_total = self._window_sums(index, count, expected, width)
                if self.options.evidence == "poisson" and expected_total < _POISSON_EXACT_BELOW:
                    z = _poisson_score(total, expected_total)
                else:
                    z = _anscombe(total) - _anscombe_expected(expected_total)
                whole = total
                if self._trims(width):
                    whole = self._whole_sums(index, count, None, width)[0]
                evidence.append(_WindowEvidence(minutes, total, expected_total, z, whole))
        if not self._fits or not evidence:
            assessment = self._static_assessment(start, index, count, expected)
        else:
            assessment = self._baseline_assessment(start, count, expected, evidence)
        return _Evaluation(index, expected, tuple(evidence), assessment)

    def _baseline_assessment(
        self,
        start: datetime,
        count: int,
        expected: float | None,
        evidence: list[_WindowEvidence],
    ) -> Assessment:
        p = self.params
        # Bonferroni over the windows: each window alone must be n times as rare.
        windows = len(evidence)
        judged = [
            (window, window.count >= p.min_count, self._return_days(fit, window) / windows)
            for fit, window in zip(self._fits, evidence, strict=True)
        ]
        # The rarest window decides, among those with enough mentions to matter.
        # (On a tie, the window listed first.)
        _, (window, enough, return_days) = max(
            enumerate(judged), key=lambda item: (item[1][1], item[1][2], -item[0])
        )
        severity = self._severity_of(return_days) if enough else 0
        window_severities = tuple(
            (each.minutes, self._severity_of(days) if counts else 0)
            for each, counts, days in judged
        )
        capped = (
            f" (counted as {window.count}: short spikes capped)"
            if window.whole != window.count
            else ""
        )
        reason = (
            f"{window.whole} mentions in {window.minutes} min{capped} against "
            f"{window.expected:.1f} expected: a 1-in-{_fmt_days(return_days)}-days excess "
            "for this series"
        )
        if not enough:
            reason += f" (below {p.min_count} mentions: never alerts)"
        return Assessment(
            bucket_start=start,
            bucket_minutes=p.bucket_minutes,
            count=count,
            expected=expected,
            severity=severity,
            warming_up=False,
            basis="baseline",
            return_period_days=return_days,
            window_minutes=window.minutes,
            window_count=window.whole,
            window_judged=window.count if window.whole != window.count else None,
            window_expected=window.expected,
            window_severities=window_severities,
            reason=reason,
        )

    def _return_days(self, fit: _Gumbel, window: _WindowEvidence) -> float:
        days = fit.return_days(window.z)
        below = self.options.poisson_return_below
        if below and window.expected < below:
            tail = _poisson_tail(window.count, window.expected)
            judgements_a_day = float(self.params.buckets_per_day)
            poisson_days = _MAX_RETURN_DAYS if tail <= 0.0 else 1.0 / (tail * judgements_a_day)
            days = min(days, max(poisson_days, 1.0))
        return days

    def _severity_of(self, return_days: float) -> int:
        p = self.params
        severity = 0
        for level, days in enumerate(
            (p.watch_return_days, p.warning_return_days, p.critical_return_days), start=1
        ):
            if return_days >= days:
                severity = level
        return severity

    def _static_assessment(
        self, start: datetime, index: int, count: int, expected: float | None
    ) -> Assessment:
        p = self.params
        days = len(self._maxima[0])
        warming = f"baseline warming up ({days} of {p.warmup_days} days)"
        if p.static_count is None:
            return Assessment(
                bucket_start=start,
                bucket_minutes=p.bucket_minutes,
                count=count,
                expected=expected,
                severity=0,
                warming_up=True,
                basis="none",
                reason=f"{warming}; no static threshold configured",
            )
        # The static threshold counts every mention (no spike is capped).
        total = self._whole_sums(index, count, None, self._static_buckets)[0]
        severity = 0
        for level, multiple in enumerate((1, 2, 4), start=1):
            if total >= multiple * p.static_count:
                severity = level
        return Assessment(
            bucket_start=start,
            bucket_minutes=p.bucket_minutes,
            count=count,
            expected=expected,
            severity=severity,
            warming_up=True,
            basis="static",
            window_minutes=p.static_minutes,
            window_count=total,
            window_severities=((p.static_minutes, severity),),
            reason=(
                f"{warming}; static threshold: {total} mentions in {p.static_minutes} min "
                f"against {p.static_count}"
            ),
        )

    def _stale(self, index: int, count: int, newest: int) -> Assessment:
        p = self.params
        start = datetime.fromtimestamp(index * self._bucket_seconds, UTC)
        newest_start = datetime.fromtimestamp(newest * self._bucket_seconds, UTC)
        return Assessment(
            bucket_start=start,
            bucket_minutes=p.bucket_minutes,
            count=count,
            expected=None,
            severity=0,
            warming_up=self.warming_up,
            basis="none",
            stale=True,
            reason=f"ignored: older than the newest bucket {newest_start.isoformat()}",
        )

    # ------------------------------------------------------------------ learning

    def _commit(self, index: int, count: int) -> None:
        """Learn from a bucket that is now final (a later one has arrived)."""
        evaluation = self._pending_evaluation
        if evaluation is None or evaluation.index != index or evaluation.assessment.count != count:
            evaluation = self._evaluate(index, count)
        for slot, window in enumerate(evaluation.windows):
            current = self._day_max[slot]
            self._day_max[slot] = window.z if current is None else max(current, window.z)
        # Unusual buckets add to the excess clock, normal ones wind it back: a storm that
        # flickers in and out still counts as one long excess.
        anomalous = evaluation.assessment.anomalous
        held = False
        if self.options.hold_hours:
            if anomalous:
                self._last_anomalous = index
            elif self._last_anomalous is not None:
                held = (index - self._last_anomalous) * self.params.bucket_minutes < (
                    self.options.hold_hours * 60.0
                )
        step = 1 if anomalous else (0 if held else -1)
        self._excess_buckets = max(0, self._excess_buckets + step)
        self._learn(index, count, evaluation.expected, anomalous, held=held)
        self._remember(index, count, evaluation.expected)

    def _remember(self, index: int, count: int, expected: float | None) -> None:
        """Keep a judged bucket in the history (the longest window's worth of them)."""
        self._history.append((index, count, expected))
        self._spikes_in_history += self._above_cap(count, expected)
        oldest = index - self._history_buckets + 1
        while self._history and self._history[0][0] < oldest:
            _, dropped, dropped_expected = self._history.pop(0)
            self._spikes_in_history -= self._above_cap(dropped, dropped_expected)

    def _learn(
        self,
        index: int,
        count: int,
        expected: float | None,
        anomalous: bool,
        *,
        held: bool = False,
    ) -> None:
        """Add one final bucket to the level sums and to today's hourly counts.

        The count is first Huber-clipped on the Anscombe scale and turned back into a
        count, so one bucket adds at most a bounded number of mentions (about three
        when almost none are expected) to sums of mentions; it is never divided by a
        tiny expectation.
        """
        self._learned += 1
        local = self._local(index)
        hour, weekday = local.hour, local.weekday()
        learned = float(count)
        if expected is not None:
            p = self.params
            residual = _anscombe(count) - _anscombe_expected(expected)
            clip = p.huber_clip * max(self._scale, _MIN_CLIP_SIGMA)
            upper = clip
            if anomalous:
                # A storm teaches nothing upward at first; the longer an excess lasts, the
                # more of it is learned (a new normal persists, a storm does not).
                hours = self._excess_buckets * p.bucket_minutes / 60.0
                upper = clip * hours / p.shift_acceptance_hours
            elif held:
                # An open episode (DetectorOptions.hold_hours): its lulls teach nothing upward.
                upper = 0.0
            highest = max(_count_at(expected, upper), expected)
            learned = max(_count_at(expected, -clip), min(learned, highest))

            self._scale_n += 1
            scale_gain = max(self._scale_gain, 1.0 / self._scale_n)
            robust_abs = min(abs(residual), clip) / _MEAN_ABS_NORMAL
            self._scale += scale_gain * (robust_abs - self._scale)
            self._scale = max(self._scale, 0.1)

        # Level: mentions per unit of seasonal exposure (the Poisson estimate of a rate
        # with known relative exposures), both sums with a one-day memory.
        seasonal = self._daily[hour] * self._weekly[weekday]
        # The weekday factor first, against the level this bucket was judged by.
        self._learn_weekday(weekday, hour, learned)
        self._level_mentions = self._level_mentions * self._level_keep + learned
        self._level_exposure = self._level_exposure * self._level_keep + seasonal
        self._day_hour_counts[hour] += learned
        self._day_hour_buckets[hour] += 1

    def _learn_weekday(self, weekday: int, hour: int, learned: float) -> None:
        """Add one bucket to its weekday's sums of mentions and of weekday-free expectation.

        The day-of-week factor is the ratio of the two (mentions over what level x
        hour-of-day expected), the same Poisson rate estimator as the level, in the way
        iterative proportional fitting estimates each factor of a multiplicative model.
        Being additive in counts it cannot blow up on sparse series; being updated per
        bucket it learns a weekday from its first occurrence (a new series knows its
        weekend after one weekend). The factors are kept averaging 1 and the level takes
        over their common scale, so the expectation of the other weekdays is unchanged.

        Nothing is learned before a first day has taught the hour-of-day rhythm: until
        then the daily swell would be taken for a weekday effect (an evening trough on
        the first, partial day would make that weekday look quiet for weeks).
        """
        if self._level_exposure <= 0.0 or not any(self._hour_mentions):
            return
        level = self._level_mentions / self._level_exposure
        before = self._weekly_mean()
        keep = self._weekly_keep
        self._weekday_mentions[weekday] = self._weekday_mentions[weekday] * keep + learned
        self._weekday_exposure[weekday] = (
            self._weekday_exposure[weekday] * keep + level * self._daily[hour]
        )
        after = self._weekly_mean()
        self._level_exposure *= before / after
        self._weekly = [w / after for w in self._weekly_raw()]

    def _weekly_raw(self) -> list[float]:
        prior = _PRIOR_MENTIONS
        return [
            (m + prior) / (e + prior)
            for m, e in zip(self._weekday_mentions, self._weekday_exposure, strict=True)
        ]

    def _weekly_mean(self) -> float:
        return sum(self._weekly_raw()) / DAYS_PER_WEEK

    def _learn_day(self) -> None:
        """Learn the daily rhythm from a finished day's hourly (clipped) counts.

        Hour-of-day factors are each hour's share of its own day (so a level that moves
        during the day does not leak into the rhythm): ratios of discounted sums of
        mentions, shrunk towards 1 by `_PRIOR_MENTIONS`.
        """
        buckets = self._day_hour_buckets
        full: list[float | None] = [
            self._day_hour_counts[h] * self._per_hour / buckets[h] if buckets[h] else None
            for h in range(HOURS_PER_DAY)
        ]
        seen = [h for h in range(HOURS_PER_DAY) if full[h] is not None]
        seen_mentions = sum(full[h] or 0.0 for h in seen)
        seen_shape = sum(self._daily[h] for h in seen)
        # An hour with no bucket read (a gap, the hour skipped by daylight saving) is
        # imputed from the current rhythm, so that it neither adds nor removes a share.
        hourly = [
            value if value is not None else self._daily[h] * seen_mentions / seen_shape
            for h, value in enumerate(full)
        ]
        for h, value in enumerate(hourly):
            self._hour_mentions[h] = self._hour_mentions[h] * self._daily_keep + value
        self._refresh_factors()

    def _refresh_factors(self) -> None:
        prior = _PRIOR_MENTIONS
        hour_mean = sum(self._hour_mentions) / HOURS_PER_DAY
        # Shares of the day with a Dirichlet prior: they average exactly 1.
        self._daily = [(m + prior) / (hour_mean + prior) for m in self._hour_mentions]
        weekly_mean = self._weekly_mean()
        self._weekly = [w / weekly_mean for w in self._weekly_raw()]

    def _refit(self) -> None:
        p = self.params
        if self.warming_up:
            self._fits = ()
        else:
            self._fits = tuple(_gumbel_fit(m, p.min_gumbel_scale) for m in self._maxima)

    def _roll_day(self, index: int) -> None:
        """At the first bucket of a new day, learn the finished day's rhythm and file its maxima."""
        day = self._local(index).toordinal()
        if self._day == day:
            return
        p = self.params
        complete = sum(self._day_hour_buckets) * 2 >= p.buckets_per_day
        baseline_formed = self._day_learned_before >= p.buckets_per_day
        if self._day is not None and complete:
            self._learn_day()
        if self._day is not None and complete and baseline_formed:
            for slot, day_max in enumerate(self._day_max):
                if day_max is None:
                    continue
                maxima = self._maxima[slot]
                filed = day_max
                if self._fits:
                    # A storm day is filed at most at the alert level: it must not raise the bar.
                    cap = self._fits[slot].threshold(
                        p.watch_return_days * len(self._window_buckets)
                    )
                    if day_max > cap and self.options.storm_days == "skip":
                        continue
                    filed = min(day_max, cap)
                maxima.append(filed)
                del maxima[: -p.maxima_days]
            self._refit()
        self._day = day
        self._day_hour_counts = [0.0] * HOURS_PER_DAY
        self._day_hour_buckets = [0] * HOURS_PER_DAY
        self._day_learned_before = self._learned
        self._day_max = [None] * len(self._window_buckets)


def _poisson_tail(count: int, expected: float) -> float:
    """Mid-p upper tail of a Poisson count: P(X > count) + P(X = count) / 2."""
    mu = max(expected, _MIN_EXPECTED)
    log_pmf = count * math.log(mu) - mu - math.lgamma(count + 1)
    pmf = math.exp(log_pmf)
    if count > mu:
        # Terms above `count` shrink at least geometrically: sum until negligible.
        above, term, k = 0.0, pmf, count
        while True:
            k += 1
            term *= mu / k
            above += term
            if term <= above * 1e-12 or term == 0.0:
                break
        return above + pmf / 2.0
    # P(X >= count) = 1 - P(X < count): sum the (few, count <= mu < 200) lower terms.
    below, term = 0.0, math.exp(-mu)
    for k in range(count):
        below += term
        term *= mu / (k + 1)
    return max(1.0 - below - pmf / 2.0, 0.0)


def _poisson_score(count: int, expected: float) -> float:
    """The normal score of the mid-p Poisson upper tail: like the Anscombe residual for
    large counts, exact for the small ones."""
    tail = _poisson_tail(count, expected)
    if tail >= 1.0:
        return -8.0
    if tail <= 1e-300:
        # Beyond the normal table: the asymptotic score of a tail this small.
        log_tail = (
            count * math.log(max(expected, _MIN_EXPECTED)) - expected - math.lgamma(count + 1)
        )
        return math.sqrt(max(-2.0 * log_tail, 0.0))
    return -_NORMAL.inv_cdf(tail)


def _zone(name: str) -> tzinfo:
    if name == "UTC":
        return UTC
    # Imported here: most series are read in UTC and zoneinfo costs a few ms at cold start.
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _fmt_days(days: float) -> str:
    if days >= _MAX_RETURN_DAYS:
        return f">{_MAX_RETURN_DAYS:.0e}"
    return f"{days:.0f}" if days >= 10 else f"{days:.1f}"


def _floats(values: Any, length: int) -> list[float]:
    result = [float(v) for v in values]
    if len(result) != length:
        raise ValueError(f"expected {length} numbers, got {len(result)}")
    return result


def _ints(values: Any, length: int) -> list[int]:
    result = [int(v) for v in values]
    if len(result) != length:
        raise ValueError(f"expected {length} numbers, got {len(result)}")
    return result
