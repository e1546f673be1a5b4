"""NAB realTweets benchmark of the production volume detector and alert lifecycle.

    python -m bench.nab --data DIR --out OUT [--param NAME=VALUE ...]
                        [--sensitivity] [--cross-validate] [--explain-windows]
                        [--bounds] [--cv [--cv-designs NAME,...] [--cv-workers N]]

Feeds every ``Twitter_volume_*.csv`` in DIR, row by row in time order, into
`VolumeDetector` and the alert lifecycle (`BrandLifecycle`, the rules the evaluator
runs on a brand's all-channels series) with the shipped defaults (one series = one brand,
one row = one bucket; nothing the detector sees comes from the labels or the file
name). Writes ``OUT/<same file name>`` with ``timestamp,value,alert`` where
``alert`` is 1 on each row where a new alert starts firing.

When DIR holds ``combined_windows.json`` the alerts are scored with NAB's
"standard" profile and a report is printed whose last line is ``nab: S``.
``--param`` overrides one detector or firing parameter (for the sensitivity table
in docs/decisions/0003-volume-detector.md); ``--sensitivity`` scores every main
parameter at -25 % and +25 %; ``--cross-validate`` selects parameters on half of the
files and scores the choice on the other half, for every way to split the six;
``--explain-windows`` shows how unusual each labelled window looked to the detector
(the labels are read for that report only, after the run); ``--bounds`` shows what
the same found windows would score with no false alert at all, and how early the
alerts would have to come to reach a given score.

``--cv`` is leave-one-series-out over every series in DIR (a folder without
``Twitter_volume_*.csv`` is read as every ``*.csv``, e.g. ``bench.synthetic``'s): for each
series, the setting of `CV_DESIGNS` (or of the designs named by ``--cv-designs``) that
scores best on the others is scored on it. It prints each fold's choice and score and
each design's own CV score, and last ``nab-cv: S`` (decision 0017).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import dataclasses
import hashlib
import inspect
import itertools
import json
import math
import os
import statistics
import sys
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stormwatch.config.alerts import AlertSettings, FiringRuleParams, VolumeDetectorParams
from stormwatch.config.fields import config_error
from stormwatch.model import ALL_CHANNELS, BucketCounts
from stormwatch.warn.detector import Assessment, DetectorOptions, VolumeDetector
from stormwatch.warn.lifecycle import BrandLifecycle
from stormwatch.warn.rules import SeriesWindow, crisis_findings

SERIES_GLOB = "Twitter_volume_*.csv"
WINDOWS_FILE = "combined_windows.json"
MINUTES_PER_WEEK = 7 * 24 * 60
# One series is one brand; the name never reaches the detector.
SERIES_BRAND = "series"


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class ScoringProfile:
    """NAB's "standard" application profile and its probationary period."""

    tp_weight: float = 1.0
    fp_weight: float = 0.11
    fn_weight: float = 1.0
    probation_fraction: float = 0.15
    probation_cap_rows: int = 750


STANDARD = ScoringProfile()


@dataclass(frozen=True, slots=True)
class Window:
    """A labelled anomaly window, both ends inclusive."""

    start: datetime
    end: datetime


@dataclass(slots=True)
class FileScore:
    """How one file's alerts score, and the figures the report prints."""

    name: str
    windows: int
    detected: int = 0
    true_positive: float = 0.0
    false_positive: float = 0.0
    false_negative: float = 0.0
    false_alerts: int = 0
    scored_minutes: float = 0.0
    minutes_from_window_start: list[float] = field(default_factory=list)
    minutes_from_window_centre: list[float] = field(default_factory=list)

    @property
    def raw(self) -> float:
        return self.true_positive + self.false_positive + self.false_negative


def scaled_sigmoid(relative_position: float) -> float:
    """NAB's reward curve: near +1 well inside a window, 0 at its end, -1 far past it."""
    if relative_position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * relative_position)) - 1.0


def probationary_rows(total_rows: int, profile: ScoringProfile = STANDARD) -> int:
    """Rows at the start of a file that are never scored."""
    return min(
        math.floor(profile.probation_fraction * total_rows),
        profile.probation_cap_rows,
    )


def window_rows(timestamps: Sequence[datetime], windows: Iterable[Window]) -> list[tuple[int, int]]:
    """(first, last) row of each window that holds at least one row, in time order."""
    ranges: list[tuple[int, int]] = []
    for window in sorted(windows, key=lambda w: w.start):
        inside = [i for i, moment in enumerate(timestamps) if window.start <= moment <= window.end]
        if inside:
            ranges.append((inside[0], inside[-1]))
    return ranges


def score_file(
    name: str,
    timestamps: Sequence[datetime],
    alerts: Sequence[bool],
    windows: Iterable[Window],
    profile: ScoringProfile = STANDARD,
) -> FileScore:
    """Score one file's alert starts the way NAB's sweeper scores a fixed threshold.

    Inside a window only the earliest alert counts, worth more the earlier it comes;
    a window without one costs `fn_weight`. Every alert outside all windows costs
    `fp_weight`, less when it comes shortly after a window's end, the full weight
    before the first window. Probationary rows are never scored; a window that lies
    wholly inside the probationary period does not count.
    """
    if len(timestamps) != len(alerts):
        raise ValueError(f"{name}: {len(timestamps)} timestamps but {len(alerts)} alert flags")
    probation = probationary_rows(len(timestamps), profile)
    ranges = [(a, b) for a, b in window_rows(timestamps, windows) if b >= probation]
    max_reward = scaled_sigmoid(-1.0)
    score = FileScore(name=name, windows=len(ranges))
    if len(timestamps) > probation:
        score.scored_minutes = (timestamps[-1] - timestamps[probation]).total_seconds() / 60.0

    reward_by_window: dict[int, float] = {}
    upcoming = 0
    previous: tuple[int, int] | None = None
    for i, fired in enumerate(alerts):
        while upcoming < len(ranges) and ranges[upcoming][1] < i:
            previous = ranges[upcoming]
            upcoming += 1
        if not fired or i < probation:
            continue
        if upcoming < len(ranges) and ranges[upcoming][0] <= i:
            if upcoming in reward_by_window:
                continue
            left, right = ranges[upcoming]
            width = right - left + 1
            reward = scaled_sigmoid(-(right - i + 1) / width) / max_reward
            reward_by_window[upcoming] = profile.tp_weight * reward
            start, end = timestamps[left], timestamps[right]
            centre = start + (end - start) / 2
            score.minutes_from_window_start.append((timestamps[i] - start).total_seconds() / 60)
            score.minutes_from_window_centre.append((timestamps[i] - centre).total_seconds() / 60)
        else:
            score.false_alerts += 1
            if previous is None:
                score.false_positive -= profile.fp_weight
            else:
                left, right = previous
                past = (i - right) / max(right - left, 1)
                score.false_positive += profile.fp_weight * scaled_sigmoid(past)
    score.detected = len(reward_by_window)
    score.true_positive = sum(reward_by_window.values())
    score.false_negative = -profile.fn_weight * (len(ranges) - score.detected)
    return score


def normalised(scores: Sequence[FileScore], profile: ScoringProfile = STANDARD) -> float:
    """100 for one alert at the start of every window and nothing else; 0 for no alerts."""
    windows = sum(s.windows for s in scores)
    if windows == 0:
        return 0.0
    perfect = windows * profile.tp_weight
    null = -windows * profile.fn_weight
    return 100.0 * (sum(s.raw for s in scores) - null) / (perfect - null)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    moment: datetime
    value: int


class BenchInputError(ValueError):
    """A data file the bench cannot read; the message names the file and, if any, the line."""


def _parse_time(text: str) -> datetime:
    """NAB times carry no zone; they are read as UTC (the detector needs aware times)."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(text: str) -> int:
    """A bucket's mention count: a whole number of at least 0 ("12" or "12.0")."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ValueError(f"a mention count must be a whole number >= 0, got {text!r}")
    return int(value)


def read_series(path: Path) -> list[Row]:
    """The rows of a NAB csv (timestamp,value), in time order.

    Raises `BenchInputError` naming the file and line for a missing column, a bad
    timestamp or count, or a file without rows (`check_spacing` then checks the times).
    """
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"timestamp", "value"} - set(reader.fieldnames or ())
        if missing:
            raise BenchInputError(
                f"{path.name}: the header needs the columns timestamp,value "
                f"(missing: {', '.join(sorted(missing))})"
            )
        for record in reader:
            try:
                text = record["timestamp"] or ""
                rows.append(Row(text, _parse_time(text), _count(record["value"] or "")))
            except ValueError as error:
                raise BenchInputError(f"{path.name}, line {reader.line_num}: {error}") from error
    if not rows:
        raise BenchInputError(f"{path.name}: no rows after the header")
    rows.sort(key=lambda row: row.moment)
    return rows


def check_spacing(name: str, rows: Sequence[Row], bucket_minutes: int) -> None:
    """Each row is one bucket: two rows closer than a bucket would be judged as one."""
    for before, after in itertools.pairwise(rows):
        if before.moment == after.moment:
            raise BenchInputError(f"{name}: the timestamp {after.text} appears twice")
        if (after.moment - before.moment).total_seconds() < bucket_minutes * 60:
            raise BenchInputError(
                f"{name}: {before.text} and {after.text} are closer than one "
                f"{bucket_minutes}-minute bucket; each row must be one bucket"
            )


def read_windows(path: Path) -> dict[str, list[Window]]:
    """Windows by csv file name (NAB keys them as ``<category>/<file>``).

    Raises `BenchInputError` for a file that is not JSON of that shape, a bad timestamp,
    or a window that ends before it starts.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BenchInputError(f"{path.name}: not valid JSON ({error})") from error
    if not isinstance(raw, dict):
        raise BenchInputError(f"{path.name}: expected an object of file name -> windows")
    windows: dict[str, list[Window]] = {}
    for key, pairs in raw.items():
        if not isinstance(pairs, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
            for pair in pairs
        ):
            raise BenchInputError(
                f"{path.name}: {key}: expected a list of [start, end] timestamp pairs"
            )
        try:
            parsed = [Window(_parse_time(start), _parse_time(end)) for start, end in pairs]
        except ValueError as error:
            raise BenchInputError(f"{path.name}: {key}: {error}") from error
        for window in parsed:
            if window.end < window.start:
                raise BenchInputError(
                    f"{path.name}: {key}: a window ends ({window.end}) before it starts"
                )
        windows[Path(key).name] = parsed
    return windows


def write_output(path: Path, rows: Sequence[Row], alerts: Sequence[bool]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["timestamp", "value", "alert"])
        for row, fired in zip(rows, alerts, strict=True):
            writer.writerow([row.text, row.value, int(fired)])


# --------------------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class Setup:
    """One detector + firing configuration."""

    detector: VolumeDetectorParams = field(default_factory=VolumeDetectorParams)
    firing: FiringRuleParams = field(default_factory=FiringRuleParams)
    options: DetectorOptions = field(default_factory=DetectorOptions)
    """Experimental detector designs (decision 0017); the defaults are the shipped one."""


def assess(rows: Sequence[Row], setup: Setup) -> tuple[list[Assessment], list[bool]]:
    """Feed one series through a fresh detector and the brand's alert lifecycle, in order.

    Each row is one bucket of the brand's all-channels series; the rules the evaluator
    runs on such a series (volume, velocity, negative share, static thresholds) run with
    the shipped defaults, and `BrandLifecycle` - the production alert lifecycle - decides
    when an alert starts. Returns each row's assessment and whether an alert started on it
    (or, reopened within a day of its episode, became worse than its peak: decision 0018).
    """
    settings = AlertSettings(volume=setup.detector, lifecycle=setup.firing)
    bucket_minutes = setup.detector.bucket_minutes
    lookback = max(
        2 * settings.velocity.window_minutes,
        settings.negative_share.window_minutes,
        *(rule.window_minutes for rule in settings.static_for(SERIES_BRAND, ALL_CHANNELS)),
    )
    detector = VolumeDetector(settings.volume, setup.options)
    lifecycle = BrandLifecycle(SERIES_BRAND, settings)
    recent: deque[tuple[datetime, BucketCounts]] = deque(maxlen=lookback // bucket_minutes)
    assessments: list[Assessment] = []
    started: list[bool] = []
    for row in rows:
        assessment = detector.observe(row.moment, row.value)
        recent.append((assessment.bucket_start, BucketCounts(total=row.value)))
        window = SeriesWindow(ALL_CHANNELS, bucket_minutes, list(recent))
        findings = crisis_findings(
            assessment, window, settings, SERIES_BRAND, baseline_trusted=not detector.warming_up
        )
        dispatches = lifecycle.evaluate(
            assessment.bucket_start, bucket_minutes, row.moment, findings, row.value
        )
        assessments.append(assessment)
        # A new alert, or a reopened one worse than its peak: on call is paged again.
        started.append(any(d.opens for d in dispatches))
    return assessments, started


def alert_starts(rows: Sequence[Row], setup: Setup) -> list[bool]:
    """True on each row where a new alert starts firing."""
    return assess(rows, setup)[1]


def _score_one(args: tuple[Path, Setup, list[Window]]) -> FileScore:
    path, setup, windows = args
    rows = read_series(path)
    return score_file(path.name, [r.moment for r in rows], alert_starts(rows, setup), windows)


def score_setups(
    files: Sequence[Path], windows: Mapping[str, list[Window]], setups: Sequence[Setup]
) -> list[list[FileScore]]:
    """Per setup, the scores of every file (which is all that subset scores need)."""
    jobs = [(path, setup, windows[path.name]) for setup in setups for path in files]
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            flat = list(pool.map(_score_one, jobs))
    else:
        flat = [_score_one(job) for job in jobs]
    return [flat[i : i + len(files)] for i in range(0, len(flat), len(files))]


# --------------------------------------------------------------------------- parameters


def _convert(value: str, current: object) -> object:
    if value.lower() in ("none", "null"):
        return None
    if isinstance(current, tuple):
        return tuple(int(part) for part in value.split(",") if part)
    if isinstance(current, bool):
        return value.lower() in ("1", "true", "yes")
    if isinstance(current, int) or current is None:
        return int(value)
    if isinstance(current, float):
        return float(value)
    return value


def with_overrides(setup: Setup, overrides: Mapping[str, str]) -> Setup:
    """`setup` with NAME=VALUE overrides; a name may belong to any of the parameter sets
    (detector, firing) or the experimental options (`DetectorOptions`)."""
    detector_fields = set(VolumeDetectorParams.model_fields)
    firing_fields = set(FiringRuleParams.model_fields)
    option_fields = {f.name for f in dataclasses.fields(DetectorOptions)}
    detector: dict[str, Any] = {}
    firing: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for name, text in overrides.items():
        if name in detector_fields:
            detector[name] = _convert(text, getattr(setup.detector, name))
        elif name in firing_fields:
            firing[name] = _convert(text, getattr(setup.firing, name))
        elif name in option_fields:
            options[name] = _convert(text, getattr(setup.options, name))
        else:
            known = ", ".join(sorted(detector_fields | firing_fields | option_fields))
            raise SystemExit(f"--param {name}: unknown parameter (known: {known})")
    try:
        return Setup(
            VolumeDetectorParams.model_validate({**dict(setup.detector), **detector}),
            FiringRuleParams.model_validate({**dict(setup.firing), **firing}),
            dataclasses.replace(setup.options, **options),
        )
    except ValidationError as error:
        raise SystemExit(f"--param: {config_error(error)}") from error


def _scaled(value: object, factor: float, bucket_minutes: int) -> str:
    """`value` x `factor` as override text: windows stay multiples of the bucket."""
    if isinstance(value, tuple):
        return ",".join(
            str(max(bucket_minutes, round(v * factor / bucket_minutes) * bucket_minutes))
            for v in value
        )
    if isinstance(value, int):
        return str(max(1, round(value * factor)))
    assert isinstance(value, float)
    return repr(value * factor)


# The main knobs: each is scored at -25 % and +25 % by --sensitivity.
SENSITIVITY_PARAMETERS = (
    "watch_return_days",
    "windows_minutes",
    "level_half_life_hours",
    "daily_half_life_days",
    "weekly_half_life_weeks",
    "huber_clip",
    "shift_acceptance_hours",
    "maxima_days",
    "min_count",
    "resolve_after_minutes",
    "cooldown_minutes",
)

# Principled alternatives of the main knobs for --cross-validate: selection by score
# on half of the files, then scored on the other half.
CROSS_VALIDATION_GRID: Mapping[str, Sequence[str]] = {
    "watch_return_days": ("7", "14", "28"),
    "level_half_life_hours": ("12", "24", "48"),
    "windows_minutes": ("15,60,180", "15,60,180,720"),
}


# --------------------------------------------------------------------------- --cv

# Designs for leave-one-series-out (--cv), each a small grid of settings. "A choice of
# a default" is the choice of one setting of the whole grid (or, for a design's own
# figure, of its own grid) by the score on the training series; a design with one
# setting has nothing to choose, so its CV score is its score on all series.
CV_DESIGNS: Mapping[str, Sequence[Mapping[str, str]]] = {
    # The shipped lifecycle reopens an episode for 24 h (reopen_minutes=1440, decision
    # 0018); reopen_minutes=0 is the rule shipped before it. The shipped detector caps
    # short isolated spikes in the long windows (trim_spikes=4, trim_runs=6, trim_quiet=3,
    # trim_release=0.25; decision 0018, fourth session); trim_spikes=0 is the one before.
    "shipped": ({},),
    "no-reopen": ({"reopen_minutes": "0"},),
    "no-trim": ({"trim_spikes": "0"},),
    "watch-level": ({"watch_return_days": "7"}, {"watch_return_days": "28"}),
    "watch-21-28": ({"watch_return_days": "21"}, {"watch_return_days": "28"}),
    "poisson-evidence": (
        {"evidence": "poisson"},
        {"evidence": "poisson", "watch_return_days": "28"},
    ),
    "poisson-return": ({"poisson_return_below": "30"}, {"poisson_return_below": "100"}),
    "longer-quiet": ({"resolve_after_minutes": "180"}, {"resolve_after_minutes": "720"}),
    "cooldown": ({"cooldown_minutes": "1440"}, {"cooldown_minutes": "4320"}),
    "reopen": ({"reopen_minutes": "720"}, {"reopen_minutes": "4320"}),
    "slow-acceptance": ({"shift_acceptance_hours": "72"}, {"shift_acceptance_hours": "168"}),
    "hold-learning": ({"hold_hours": "24"}, {"hold_hours": "72"}),
    "skip-storm-days": ({"storm_days": "skip"},),
    "six-hour-window": ({"windows_minutes": "15,60,180,360,720"},),
    "longer-maxima": ({"maxima_days": "56"},),
    # The spike cap's earlier forms (decision 0018), stated against the shipped one.
    "trim-spikes": ({"trim_runs": "0"}, {"trim_spikes": "8", "trim_runs": "0"}),
    "trim-isolated": ({"trim_runs": "3", "trim_quiet": "0"}, {"trim_quiet": "0"}),
    "trim-hysteresis": ({"trim_release": "0.5"}, {"trim_quiet": "6"}),
    "episode": ({"hold_hours": "24"}, {"hold_hours": "24", "storm_days": "skip"}),
    "rarer+episode": (
        {"watch_return_days": "28"},
        {"watch_return_days": "28", "cooldown_minutes": "1440"},
    ),
    "sparse+episode": (
        {"evidence": "poisson", "hold_hours": "24"},
        {"poisson_return_below": "30", "hold_hours": "24"},
    ),
}
_CODE = (
    "layers/core/stormwatch/warn/detector.py",
    "layers/core/stormwatch/warn/firing.py",
    "layers/core/stormwatch/warn/lifecycle.py",
    "layers/core/stormwatch/warn/rules.py",
    "layers/core/stormwatch/config/alerts.py",
)


def describe_setting(overrides: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(overrides.items())) or "(shipped)"


def _code_digest() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in _CODE:
        digest.update((root / name).read_bytes())
    # The bench's own loop, not the rest of this file (adding a design keeps the cache).
    digest.update(inspect.getsource(assess).encode())
    return digest.hexdigest()[:16]


def _cv_job(args: tuple[Path, Mapping[str, str], Path]) -> list[int]:
    """Rows where alerts start, for one file under one setting; cached on disk by the
    file's bytes, the setting and the detector code."""
    path, overrides, cache = args
    key = hashlib.sha256(
        json.dumps(
            [
                hashlib.sha256(path.read_bytes()).hexdigest(),
                sorted(overrides.items()),
                _code_digest(),
            ]
        ).encode()
    ).hexdigest()[:24]
    cached = cache / f"{key}.json"
    if cached.exists():
        rows: list[int] = json.loads(cached.read_text(encoding="utf-8"))
        return rows
    series = read_series(path)
    starts = alert_starts(series, with_overrides(Setup(), overrides))
    rows = [i for i, fired in enumerate(starts) if fired]
    cache.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(rows), encoding="utf-8")
    return rows


def cross_validate_series(
    series: Mapping[str, Sequence[Row]],
    windows: Mapping[str, list[Window]],
    files: Sequence[Path],
    cache: Path,
    designs: Mapping[str, Sequence[Mapping[str, str]]] = CV_DESIGNS,
    workers: int = 2,
) -> float:
    """Leave one series out over every series with windows: the setting of `designs` that
    scores best on the others (ties: the first listed) is scored on the one left out.

    Prints each fold's choice and score, then each design's own CV score (choosing
    within its grid only) beside its score on all series; returns the pooled held-out
    score (the NAB normalisation over all held-out files' windows).
    """
    settings = [(name, o) for name, grid in designs.items() for o in grid]
    jobs = [(path, overrides, cache) for _, overrides in settings for path in files]
    if workers > 1:
        # `workers` processes in all: this one and workers - 1 helpers.
        with ProcessPoolExecutor(workers - 1) as pool:
            helped = [pool.submit(_cv_job, job) for job in jobs[1::workers]]
            mine = {i: _cv_job(job) for i, job in enumerate(jobs) if i % workers != 1}
            flat = [
                mine[i] if i in mine else helped[i // workers].result() for i in range(len(jobs))
            ]
    else:
        flat = [_cv_job(job) for job in jobs]
    names = [path.name for path in files]
    scores: list[dict[str, FileScore]] = []
    for k in range(len(settings)):
        by_name: dict[str, FileScore] = {}
        for j, name in enumerate(names):
            rows = series[name]
            flags = [False] * len(rows)
            for i in flat[k * len(files) + j]:
                flags[i] = True
            by_name[name] = score_file(name, [r.moment for r in rows], flags, windows[name])
        scores.append(by_name)

    def choose(candidates: Sequence[int], fit: Sequence[str]) -> int:
        return max(candidates, key=lambda k: (normalised([scores[k][n] for n in fit]), -k))

    def folds(candidates: Sequence[int], show: bool) -> float:
        held: list[FileScore] = []
        for name in names:
            fit = [n for n in names if n != name]
            best = choose(candidates, fit)
            held.append(scores[best][name])
            if show:
                design, overrides = settings[best]
                print(
                    f"fold {_short(name):<14} chose {design}: {describe_setting(overrides):<44}"
                    f" train {normalised([scores[best][n] for n in fit]):5.1f}"
                    f"  held out {normalised([scores[best][name]]):6.1f}"
                    f" (shipped {normalised([scores[0][name]]):6.1f})"
                )
        return normalised(held)

    print("\nleave one series out over every setting of every design")
    pooled = folds(range(len(settings)), show=True)
    print("\neach design alone: CV (choosing within its grid) and its settings on all series")
    print(f"{'design':<18}{'cv':>6}  {'all series, per setting'}")
    for design in designs:
        own = [k for k, (d, _) in enumerate(settings) if d == design]
        per_setting = "; ".join(
            f"{describe_setting(settings[k][1])} {normalised(list(scores[k].values())):.1f}"
            f" ({sum(s.detected for s in scores[k].values())}/"
            f"{sum(s.windows for s in scores[k].values())},"
            f" {sum(s.false_alerts for s in scores[k].values())} false)"
            for k in own
        )
        print(f"{design:<18}{folds(own, show=False):>6.1f}  {per_setting}")
    return pooled


def _short(name: str) -> str:
    return name.removeprefix("Twitter_volume_").removesuffix(".csv")


def hour_median_starts(
    rows: Sequence[Row],
    factor: float = 4.0,
    min_excess: int = 10,
    days: int = 7,
    quiet_hours: int = 6,
) -> list[bool]:
    """The reference detector of issue 12, a few lines long: alert when the last hour's
    sum exceeds `factor` x the median hourly sum of the trailing `days` (and that median
    by `min_excess`), once per episode (none within `quiet_hours` of the last excess).
    Its constants are round numbers, not tuned; it is a yardstick for the synthetic set."""
    per_hour = 12
    sums: list[int] = []
    trailing: deque[int] = deque(maxlen=days * 24 * per_hour)
    ordered: list[int] = []
    starts: list[bool] = []
    last_excess: int | None = None
    for i, row in enumerate(rows):
        sums.append(row.value)
        hour = sum(sums[-per_hour:])
        fired = False
        if len(trailing) >= 24 * per_hour:
            median = ordered[len(ordered) // 2]
            if hour > factor * median and hour >= median + min_excess:
                fired = last_excess is None or i - last_excess > quiet_hours * per_hour
                last_excess = i
        starts.append(fired)
        if len(trailing) == trailing.maxlen:
            del ordered[bisect.bisect_left(ordered, trailing[0])]
        trailing.append(hour)
        bisect.insort(ordered, hour)
    return starts


def series_files(folder: Path) -> list[Path]:
    """NAB's ``Twitter_volume_*.csv`` in `folder`, or else every ``*.csv`` (a synthetic set)."""
    return sorted(folder.glob(SERIES_GLOB)) or sorted(folder.glob("*.csv"))


# --------------------------------------------------------------------------- report


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report_lines(scores: Sequence[FileScore]) -> list[str]:
    lines = [
        f"{'file':<26}{'windows':>8}{'found':>6}{'false':>6}{'tp':>8}{'fp':>8}{'fn':>6}"
        f"{'raw':>8}{'min>start':>10}{'min>centre':>11}"
    ]
    for s in scores:
        lines.append(
            f"{s.name:<26}{s.windows:>8}{s.detected:>6}{s.false_alerts:>6}"
            f"{s.true_positive:>8.3f}{s.false_positive:>8.3f}{s.false_negative:>6.1f}{s.raw:>8.3f}"
            f"{_minutes(_median(s.minutes_from_window_start)):>10}"
            f"{_minutes(_median(s.minutes_from_window_centre)):>11}"
        )
    starts = [m for s in scores for m in s.minutes_from_window_start]
    centres = [m for s in scores for m in s.minutes_from_window_centre]
    weeks = sum(s.scored_minutes for s in scores) / MINUTES_PER_WEEK
    false_alerts = sum(s.false_alerts for s in scores)
    lines.append(
        f"windows found: {sum(s.detected for s in scores)} of {sum(s.windows for s in scores)}; "
        f"raw score {sum(s.raw for s in scores):.3f}"
    )
    lines.append(
        f"median minutes from window start to alert: {_minutes(_median(starts))} "
        f"(from window centre, the labelled moment: {_minutes(_median(centres))})"
    )
    per_week = false_alerts / weeks if weeks else 0.0
    lines.append(
        f"false alerts: {false_alerts} in {weeks:.1f} series-weeks = {per_week:.2f} per series-week"
    )
    return lines


def _sensitivity(files: Sequence[Path], windows: Mapping[str, list[Window]], base: Setup) -> None:
    setups: list[Setup] = [base]
    labels: list[tuple[str, str, str]] = []
    for name in SENSITIVITY_PARAMETERS:
        owner: object = base.detector if hasattr(base.detector, name) else base.firing
        current = getattr(owner, name)
        low, high = (_scaled(current, f, base.detector.bucket_minutes) for f in (0.75, 1.25))
        labels.append((name, low, high))
        setups.extend(with_overrides(base, {name: text}) for text in (low, high))
    results = [normalised(s) for s in score_setups(files, windows, setups)]
    print(f"\nsensitivity (normalised score; default {results[0]:.1f})")
    print(f"{'parameter':<24}{'-25%':>18}{'score':>7}{'+25%':>18}{'score':>7}")
    for i, (name, low, high) in enumerate(labels):
        print(f"{name:<24}{low:>18}{results[1 + 2 * i]:>7.1f}{high:>18}{results[2 + 2 * i]:>7.1f}")


def _cross_validate(
    files: Sequence[Path], windows: Mapping[str, list[Window]], base: Setup
) -> None:
    names = list(CROSS_VALIDATION_GRID)
    combos = list(itertools.product(*(CROSS_VALIDATION_GRID[n] for n in names)))
    setups = [with_overrides(base, dict(zip(names, combo, strict=True))) for combo in combos]
    grid = score_setups(files, windows, [base, *setups])
    default, candidates = grid[0], grid[1:]
    by_name = [{s.name: s for s in scores} for scores in candidates]
    default_by_name = {s.name: s for s in default}
    all_names = sorted(default_by_name)

    def subset(scores: Mapping[str, FileScore], chosen: Iterable[str]) -> float:
        return normalised([scores[n] for n in chosen])

    def describe(index: int) -> str:
        return " ".join(f"{n}={v}" for n, v in zip(names, combos[index], strict=True))

    def run(splits: list[tuple[list[str], list[str]]], title: str) -> None:
        print(f"\n{title}")
        print(f"{'held out':<40}{'default':>8}{'selected':>9}  selected on the other files")
        held_default: list[float] = []
        held_selected: list[float] = []
        for fit, held in splits:
            best = max(range(len(candidates)), key=lambda i: subset(by_name[i], fit))
            d, s = subset(default_by_name, held), subset(by_name[best], held)
            held_default.append(d)
            held_selected.append(s)
            label = ",".join(n.removeprefix("Twitter_volume_").removesuffix(".csv") for n in held)
            print(f"{label:<40}{d:>8.1f}{s:>9.1f}  {describe(best)}")
        print(
            f"{'mean':<40}{statistics.mean(held_default):>8.1f}{statistics.mean(held_selected):>9.1f}"
        )
        print(f"{'min':<40}{min(held_default):>8.1f}{min(held_selected):>9.1f}")

    half = len(all_names) // 2
    halves = [
        (sorted(set(all_names) - set(held)), list(held))
        for held in itertools.combinations(all_names, len(all_names) - half)
    ]
    run(halves, f"half splits: select on {half} files, score the other {len(all_names) - half}")
    run(
        [([n for n in all_names if n != held], [held]) for held in all_names],
        "leave one file out: select on the others, score the one",
    )
    best_all = max(range(len(candidates)), key=lambda i: normalised(candidates[i]))
    print(
        "\n(for reference only, never shipped) best on all files: "
        f"{normalised(candidates[best_all]):.1f} with {describe(best_all)}; "
        f"shipped default: {normalised(default):.1f}"
    )


def _explain_windows(
    series: Mapping[str, Sequence[Row]], windows: Mapping[str, list[Window]], setup: Setup
) -> None:
    """How unusual each labelled window looked to the detector (labels are read only here)."""
    print("\nrarest moment inside each window (return period after Bonferroni, in days)")
    for name, rows in series.items():
        assessments, started = assess(rows, setup)
        moments = [row.moment for row in rows]
        for window in windows.get(name, []):
            inside = [i for i, m in enumerate(moments) if window.start <= m <= window.end]
            judged = [
                i
                for i in inside
                if assessments[i].return_period_days is not None
                and _judged_count(assessments[i]) >= setup.detector.min_count
            ]
            alerts = [i for i in inside if started[i]]
            label = f"{name.removeprefix('Twitter_volume_').removesuffix('.csv'):<6}"
            when = f"{window.start:%m-%d %H:%M}"
            if not judged:
                print(f"{label}{when}  never judged on the baseline")
                continue
            top = max(judged, key=lambda i: assessments[i].return_period_days or 0.0)
            rarest = assessments[top]
            first = f"{moments[alerts[0]]:%m-%d %H:%M}" if alerts else "none"
            print(
                f"{label}{when}  1-in-{rarest.return_period_days or 0:.1f} at "
                f"{moments[top]:%m-%d %H:%M} ({rarest.window_minutes} min, "
                f"{rarest.window_count} vs {rarest.window_expected or 0:.0f}); first alert {first}"
            )


def _judged_count(assessment: Assessment) -> int:
    """The window count the detector judged (short spikes capped), as its min_count reads it."""
    judged = assessment.window_judged
    return assessment.window_count if judged is None else judged


def _bounds(
    series: Mapping[str, Sequence[Row]],
    alerts: Mapping[str, Sequence[bool]],
    windows: Mapping[str, list[Window]],
    target: float = 85.0,
) -> None:
    """Upper bounds for the windows this run found (labels are read only here, after the run)."""
    kept: list[FileScore] = []
    at_centre: list[FileScore] = []
    widths: list[float] = []
    for name, rows in series.items():
        moments = [row.moment for row in rows]
        ranges = window_rows(moments, windows[name])
        found = [(a, b) for a, b in ranges if any(alerts[name][a : b + 1])]
        inside = [f and any(a <= i <= b for a, b in found) for i, f in enumerate(alerts[name])]
        centres = {(a + b) // 2 for a, b in found}
        kept.append(score_file(name, moments, inside, windows[name]))
        at_centre.append(
            score_file(name, moments, [i in centres for i in range(len(rows))], windows[name])
        )
        widths += [(moments[b] - moments[a]).total_seconds() / 3600 for a, b in found]
    total = sum(s.windows for s in kept)
    found_count = sum(s.detected for s in kept)
    print(f"\nbounds for the {found_count} of {total} windows this run found")
    print(f"  every false alert taken away: nab {normalised(kept):.1f}")
    print(f"  and each found window caught at its labelled moment: nab {normalised(at_centre):.1f}")
    # With no false alert: raw = sum(rewards) - missed; the target needs this mean reward.
    needed_raw = target / 100 * 2 * total - total
    mean_reward = (needed_raw + (total - found_count)) / found_count if found_count else math.inf
    if mean_reward >= 1.0:
        print(
            f"  nab {target:.0f} is out of reach with these windows, even alerting at their starts"
        )
        return
    # reward = s(-x)/s(-1) with s(-x) = tanh(2.5 x), x the share of the window still ahead.
    share_ahead = math.atanh(mean_reward * scaled_sigmoid(-1.0)) / 2.5
    lead = (share_ahead - 0.5) * statistics.mean(widths)
    when = f"{lead:.1f} h before" if lead >= 0 else f"up to {-lead:.1f} h after"
    print(
        f"  nab {target:.0f} with no false alert needs each found window caught {when} "
        f"its labelled moment on average (mean reward {mean_reward:.3f})"
    )


# --------------------------------------------------------------------------- main


def read_inputs(
    files: Sequence[Path], windows_path: Path, bucket_minutes: int
) -> tuple[dict[str, list[Row]], dict[str, list[Window]] | None]:
    """Every series, checked, and the windows if the folder has them.

    All is read before anything runs, so a bad file costs no half-written output.
    """
    series = {path.name: read_series(path) for path in files}
    for name, rows in series.items():
        check_spacing(name, rows, bucket_minutes)
    windows = read_windows(windows_path) if windows_path.exists() else None
    return series, windows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.nab", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True, help="folder of Twitter_volume_*.csv")
    parser.add_argument("--out", type=Path, required=True, help="folder for the alert csv files")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a detector or firing parameter (repeatable)",
    )
    parser.add_argument(
        "--sensitivity", action="store_true", help="score each main parameter at +-25%%"
    )
    parser.add_argument(
        "--cross-validate",
        action="store_true",
        help="held-out scores of half splits and leave-one-out",
    )
    parser.add_argument(
        "--explain-windows",
        action="store_true",
        help="print how unusual the rarest moment inside each labelled window was",
    )
    parser.add_argument(
        "--cv",
        action="store_true",
        help="leave one series out: choose a design on the others, score it on the one; "
        "last line nab-cv: S",
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="score the reference detector (hour sum against the trailing median) instead",
    )
    parser.add_argument(
        "--cv-designs",
        default="",
        metavar="NAME,...",
        help="restrict --cv to these designs of CV_DESIGNS (default: all)",
    )
    parser.add_argument("--cv-workers", type=int, default=2, help="processes for --cv (default 2)")
    parser.add_argument(
        "--bounds",
        action="store_true",
        help="what the found windows would score with no false alert, and how early alerts must be",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    files = series_files(args.data)
    if not files:
        print(f"no {SERIES_GLOB} in {args.data}", file=sys.stderr)
        return 2
    overrides = dict(_split_override(text) for text in args.param)
    setup = with_overrides(Setup(), overrides)
    try:
        series, windows = read_inputs(
            files, args.data / WINDOWS_FILE, setup.detector.bucket_minutes
        )
    except BenchInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)

    if args.reference:
        alerts = {name: hour_median_starts(rows) for name, rows in series.items()}
    else:
        alerts = {name: alert_starts(rows, setup) for name, rows in series.items()}
    for name, rows in series.items():
        write_output(args.out / name, rows, alerts[name])
    print(f"wrote {len(files)} files to {args.out}")

    if windows is None:
        return 0
    scored = [path for path in files if path.name in windows]
    for path in files:
        if path.name not in windows:
            print(f"{path.name}: no windows in {WINDOWS_FILE}; not scored", file=sys.stderr)
    if not scored:
        print(
            f"no file in {args.data} has windows in {WINDOWS_FILE}: nothing scored", file=sys.stderr
        )
        return 0
    _report(args, scored, series, alerts, windows, setup)
    return 0


def _report(
    args: argparse.Namespace,
    scored: Sequence[Path],
    series: Mapping[str, list[Row]],
    alerts: Mapping[str, list[bool]],
    windows: Mapping[str, list[Window]],
    setup: Setup,
) -> None:
    """The scores of the written alerts, the extra reports asked for, and ``nab: S`` last."""
    names = [path.name for path in scored]
    scores = [
        score_file(name, [row.moment for row in series[name]], alerts[name], windows[name])
        for name in names
    ]
    for line in report_lines(scores):
        print(line)
    if args.explain_windows:
        _explain_windows({name: series[name] for name in names}, windows, setup)
    if args.bounds:
        _bounds({name: series[name] for name in names}, alerts, windows)
    if args.sensitivity:
        _sensitivity(scored, windows, setup)
    if args.cross_validate:
        _cross_validate(scored, windows, setup)
    if args.cv:
        pooled = cross_validate_series(
            series,
            windows,
            scored,
            args.out / "cv-cache",
            _designs(args.cv_designs),
            workers=args.cv_workers,
        )
        print(f"nab (in-sample, {describe_setting(overrides_of(args))}): {normalised(scores):.1f}")
        print(f"nab-cv: {pooled:.1f}")
        return
    print(f"nab: {normalised(scores):.1f}")


def _designs(text: str) -> Mapping[str, Sequence[Mapping[str, str]]]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CV_DESIGNS]
    if unknown:
        raise SystemExit(
            f"--cv-designs: unknown {', '.join(unknown)} (known: {', '.join(CV_DESIGNS)})"
        )
    return {name: CV_DESIGNS[name] for name in names} if names else CV_DESIGNS


def overrides_of(args: argparse.Namespace) -> dict[str, str]:
    return dict(_split_override(text) for text in args.param)


def _split_override(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"--param {text!r}: expected NAME=VALUE")
    return name.strip(), value.strip()


if __name__ == "__main__":
    sys.exit(main())
