"""Synthetic mention-count series with known anomalies, in NAB's format.

    python -m bench.synthetic --out DIR [--seed N] [--weeks W]

Writes one ``<kind>_<variant>.csv`` (``timestamp,value``, 5-minute buckets) per series
and NAB's ``combined_labels.json`` / ``combined_windows.json`` beside them, so that
``python -m bench.nab --data DIR --out OUT [--cv]`` scores any detector on them with the
same NAB scorer as the real files. Everything follows from the seed: the same seed
gives the same bytes, whatever the date.

The kinds are the patterns that cost the shipped detector on unseen series (issue 12):

- ``sparse``: 0-3 mentions a bucket (Poisson, a little overdispersed), with storms that
  build over hours to 10-22 a bucket and fade over a day. Labelled at each storm's onset.
- ``longstorm``: a week-long storm whose volume decays, with aftershocks (bursts of a few
  hours, every day or two, during and after it: the same episode, unlabelled), then two
  later bursts of about 100x the median, labelled.
- ``newscycle``: a slow news cycle: volume climbs to about 3x over a day and a half,
  stays two days, and ebbs over two more. Labelled at the start of the climb.
- ``botburst``: a bot burst: 30-60x the usual volume for 15-25 minutes, no build-up.
  Labelled (an anomaly of volume, whoever posts it).
- ``levelshift``: a rebrand or launch: the level steps up 2.5x for good. Labelled at the
  step; alerts after its first day are false.

``--set sparse`` writes instead four ``sparseslow`` series (0.3-1.5 a bucket, negative
binomial noise with k 2-5): four storms each (as the unseen brand's four windows, so
each window is a quarter of the file's tenth) that ramp over 12-24 hours to a mean of 3-6
a bucket, whose busiest buckets count 10-22, and stay a day or two; and unlabelled spikes
of 5-10 in one to three buckets about twice a day.

Every series has a daily swell (quiet nights), quieter weekends, gamma-Poisson noise and
unlabelled "ordinary" bursts of 2-4x for 15-45 minutes every few days, as real mention
counts do. Windows follow NAB: each label gets a window of int(0.10 * rows / labels) rows
centred on it; overlapping windows merge. No label falls in the first 9 days (NAB's
probation is 750 rows, the detector warms up for 4-5 days).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

BUCKET_MINUTES = 5
BUCKETS_PER_DAY = 24 * 60 // BUCKET_MINUTES
START = datetime(2015, 3, 2, tzinfo=UTC)  # a Monday; fixed, never today's date
CATEGORY = "synthetic"
FIRST_LABEL_DAY = 9


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    kind: str
    counts: list[int]
    labels: list[int]
    """Rows of the labelled anomalies (their onsets)."""


# Daily swell (x3 between night and afternoon), mean 1 over the day.
_DAILY = [
    1.0 + 0.5 * math.sin((slot * BUCKET_MINUTES / 60.0 - 9.0) / 24.0 * 2.0 * math.pi)
    for slot in range(BUCKETS_PER_DAY)
]


def _rhythm(row: int) -> float:
    """Daily swell and quieter weekends (START is a Monday), mean about 1."""
    day, slot = divmod(row, BUCKETS_PER_DAY)
    weekend = 0.7 if day % 7 >= 5 else 1.0
    return _DAILY[slot] * weekend / 0.93


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0.0:
        return 0
    if mean > 60.0:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


@dataclass(frozen=True, slots=True)
class Noise:
    """The ordinary (unlabelled) texture of every series."""

    shape: float | None
    """Gamma shape of the count noise (None: each variant's own, 8-10)."""
    every_days: float
    """Mean days between ordinary bursts."""
    factor: tuple[float, float]
    """Range of an ordinary burst's multiple..."""
    log_uniform: bool
    """...drawn log-uniformly (else uniformly)."""
    buckets: tuple[int, int]
    """Range of an ordinary burst's length in buckets."""


NOISE = {
    # Mild: what the figures of decision 0017's first session were measured on.
    "mild": Noise(None, 3.0, (2.0, 4.0), False, (3, 9)),
    # Bursty: closer to NAB's files (unlabelled 5-40x bursts every day or so, shape 3).
    "bursty": Noise(3.0, 1.2, (5.0, 40.0), True, (2, 24)),
}


def _ordinary_bursts(rng: random.Random, rows: int, noise: Noise) -> list[float]:
    """Unlabelled everyday bursts (2-4x for 15-45 minutes every 3 days, when mild)."""
    boost = [1.0] * rows
    row = 0
    low, high = noise.factor
    while True:
        row += int(rng.expovariate(1.0 / (noise.every_days * BUCKETS_PER_DAY)))
        if row >= rows:
            return boost
        if noise.log_uniform:
            factor = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            factor = rng.uniform(low, high)
        for i in range(row, min(rows, row + rng.randint(*noise.buckets))):
            boost[i] *= factor


def _draw(rng: random.Random, means: Sequence[float], shape: float) -> list[int]:
    """Gamma-Poisson (negative binomial) counts with shape `shape` around `means`."""
    return [_poisson(rng, m * rng.gammavariate(shape, 1.0 / shape)) for m in means]


def _storm(length_rows: int, peak: float, rise_rows: int) -> Callable[[int], float]:
    """Multiplier of a storm `offset` rows after its onset: a rise, then a decay."""

    def at(offset: int) -> float:
        if offset < 0 or offset >= length_rows:
            return 1.0
        if offset < rise_rows:
            return 1.0 + (peak - 1.0) * (offset + 1) / rise_rows
        left = (offset - rise_rows) / max(length_rows - rise_rows, 1)
        return 1.0 + (peak - 1.0) * math.exp(-4.0 * left)

    return at


def _base(rows: int, level: float) -> list[float]:
    return [level * _rhythm(i) for i in range(rows)]


def _day(rng: random.Random, low: float, high: float) -> int:
    """A row at a random time of a random day between day `low` and day `high`."""
    return int(rng.uniform(low, high) * BUCKETS_PER_DAY)


def sparse(rng: random.Random, rows: int, level: float) -> tuple[list[float], list[int]]:
    means = _base(rows, level)
    labels = []
    days = rows / BUCKETS_PER_DAY
    for low, high in ((FIRST_LABEL_DAY + 2, days / 2), (days / 2 + 3, days - 5)):
        onset = _day(rng, low, high)
        peak_bucket = rng.uniform(10.0, 22.0)
        storm = _storm(BUCKETS_PER_DAY, peak_bucket / max(level, 0.05), rng.randint(24, 72))
        for i in range(onset, min(rows, onset + BUCKETS_PER_DAY)):
            means[i] = max(means[i], level * storm(i - onset))
        labels.append(onset)
    return means, labels


def longstorm(rng: random.Random, rows: int, level: float) -> tuple[list[float], list[int]]:
    means = _base(rows, level)
    onset = _day(rng, FIRST_LABEL_DAY + 1, FIRST_LABEL_DAY + 4)
    week = 7 * BUCKETS_PER_DAY
    storm = _storm(week, rng.uniform(8.0, 15.0), rng.randint(12, 36))
    for i in range(onset, min(rows, onset + week)):
        means[i] *= storm(i - onset)
    # Aftershocks: a burst of 2-6 h at 4-10x every 1-2 days, during the storm and for
    # ten days after it (the same episode: unlabelled).
    row = onset + BUCKETS_PER_DAY
    end = onset + week + 10 * BUCKETS_PER_DAY
    while row < min(end, rows):
        factor = rng.uniform(4.0, 10.0)
        for i in range(row, min(rows, row + rng.randint(24, 72))):
            means[i] *= factor
        row += int(rng.uniform(1.0, 2.0) * BUCKETS_PER_DAY)
    labels = [onset]
    # Two later bursts of about 100x the median, three hours each.
    days = rows / BUCKETS_PER_DAY
    later_from = (onset + week) / BUCKETS_PER_DAY + 12
    for low, high in ((later_from, later_from + 4), (later_from + 7, days - 2)):
        burst = _day(rng, low, min(high, days - 2))
        for i in range(burst, min(rows, burst + 36)):
            means[i] = level * rng.uniform(80.0, 120.0)
        labels.append(burst)
    return means, labels


def newscycle(rng: random.Random, rows: int, level: float) -> tuple[list[float], list[int]]:
    means = _base(rows, level)
    onset = _day(rng, FIRST_LABEL_DAY + 5, rows / BUCKETS_PER_DAY - 10)
    rise, hold, ebb = (int(d * BUCKETS_PER_DAY) for d in (1.5, 2.0, 2.0))
    peak = rng.uniform(2.5, 3.5)
    for i in range(onset, min(rows, onset + rise + hold + ebb)):
        offset = i - onset
        if offset < rise:
            factor = 1.0 + (peak - 1.0) * offset / rise
        elif offset < rise + hold:
            factor = peak
        else:
            factor = peak - (peak - 1.0) * (offset - rise - hold) / ebb
        means[i] *= factor
    return means, [onset]


def botburst(rng: random.Random, rows: int, level: float) -> tuple[list[float], list[int]]:
    means = _base(rows, level)
    labels = []
    days = rows / BUCKETS_PER_DAY
    for low, high in ((FIRST_LABEL_DAY + 1, days / 2), (days / 2 + 2, days - 2)):
        onset = _day(rng, low, high)
        factor = rng.uniform(30.0, 60.0)
        for i in range(onset, min(rows, onset + rng.randint(3, 5))):
            means[i] = max(means[i], level) * factor
        labels.append(onset)
    return means, labels


def levelshift(rng: random.Random, rows: int, level: float) -> tuple[list[float], list[int]]:
    means = _base(rows, level)
    onset = _day(rng, FIRST_LABEL_DAY + 5, rows / BUCKETS_PER_DAY - 14)
    for i in range(onset, rows):
        means[i] *= 2.5
    return means, [onset]


def sparseslow(rng: random.Random, rows: int, level: float) -> tuple[list[float], list[int]]:
    """The unseen sparse brand of issue 12, as described: 0-3 a bucket, four storms that
    ramp over 12-24 hours to peaks of 10-22 a bucket and stay a day or two, and frequent
    unlabelled spikes of 5-10 in a bucket or three (a retweet, a bot) twice a day."""
    means = _base(rows, level)
    labels = []
    days = rows / BUCKETS_PER_DAY
    # Four storms, as the unseen brand had four windows (so each window is a quarter of
    # the usual width: a late alert misses it). Each in its own stretch of the file.
    stretch = (days - FIRST_LABEL_DAY - 4) / 4
    for quarter in range(4):
        low = FIRST_LABEL_DAY + 1 + quarter * stretch
        onset = _day(rng, low, low + stretch - 3)
        rise = rng.randint(BUCKETS_PER_DAY // 2, BUCKETS_PER_DAY)
        length = rise + rng.randint(BUCKETS_PER_DAY, 2 * BUCKETS_PER_DAY)
        # A mean of 3-6 a bucket at its height: with k 2-5 its busiest buckets of the
        # day count 10-22, as the issue describes the storms' peaks.
        storm = _storm(length, rng.uniform(3.0, 6.0) / max(level, 0.05), rise)
        for i in range(onset, min(rows, onset + length)):
            means[i] = max(means[i], level * storm(i - onset))
        labels.append(onset)
    row = 0
    while True:
        row += int(rng.expovariate(2.0 / BUCKETS_PER_DAY))
        if row >= rows:
            return means, labels
        spike = rng.uniform(5.0, 10.0)
        for i in range(row, min(rows, row + rng.randint(1, 3))):
            means[i] = max(means[i], spike)


KINDS: dict[str, Callable[[random.Random, int, float], tuple[list[float], list[int]]]] = {
    "sparse": sparse,
    "longstorm": longstorm,
    "newscycle": newscycle,
    "botburst": botburst,
    "levelshift": levelshift,
}
# `--set sparse`: four series like the unseen sparse brand (negative binomial k 2-5).
SPARSE_KINDS: dict[str, Callable[[random.Random, int, float], tuple[list[float], list[int]]]] = {
    "sparseslow": sparseslow
}
SETS = {"all": KINDS, "sparse": SPARSE_KINDS}
# Two series of each kind: (variant, mean mentions a bucket, gamma shape of the noise).
VARIANTS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "sparseslow": (("a", 0.3, 2.0), ("b", 0.6, 3.0), ("c", 1.0, 4.0), ("d", 1.5, 5.0)),
    "sparse": (("a", 0.4, 8.0), ("b", 1.5, 8.0)),
    "longstorm": (("a", 4.0, 10.0), ("b", 40.0, 10.0)),
    "newscycle": (("a", 3.0, 10.0), ("b", 60.0, 10.0)),
    "botburst": (("a", 2.0, 10.0), ("b", 30.0, 10.0)),
    "levelshift": (("a", 1.0, 10.0), ("b", 25.0, 10.0)),
}


def generate(
    seed: int = 12,
    weeks: int = 8,
    names: Sequence[str] | None = None,
    noise: Noise = NOISE["mild"],
    kinds: str = "all",
) -> list[Series]:
    """Every series of the set `kinds` (or those `names`, e.g. ``sparse_a``),
    deterministic from `seed`: a series does not depend on which others are made."""
    rows = weeks * 7 * BUCKETS_PER_DAY
    made = []
    for kind, make in SETS[kinds].items():
        for variant, level, shape in VARIANTS[kind]:
            if names is not None and f"{kind}_{variant}" not in names:
                continue
            rng = random.Random(f"{seed}/{kind}/{variant}")
            means, labels = make(rng, rows, level)
            boost = _ordinary_bursts(rng, rows, noise)
            means = [m * b for m, b in zip(means, boost, strict=True)]
            counts = _draw(rng, means, noise.shape or shape)
            made.append(Series(f"{kind}_{variant}", kind, counts, sorted(labels)))
    return made


def windows_of(rows: int, labels: Sequence[int]) -> list[tuple[int, int]]:
    """NAB's windows: int(0.10 * rows / labels) rows centred on each label, merged."""
    if not labels:
        return []
    width = int(0.10 * rows / len(labels))
    merged: list[tuple[int, int]] = []
    for label in sorted(labels):
        first = max(0, label - width // 2)
        last = min(rows - 1, label + width // 2)
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _stamp(row: int) -> str:
    return (START + timedelta(minutes=BUCKET_MINUTES * row)).strftime("%Y-%m-%d %H:%M:%S")


def write(folder: Path, made: Sequence[Series]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    labels: dict[str, list[str]] = {}
    windows: dict[str, list[list[str]]] = {}
    for series in made:
        file_name = f"{series.name}.csv"
        with (folder / file_name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["timestamp", "value"])
            for row, count in enumerate(series.counts):
                writer.writerow([_stamp(row), count])
        key = f"{CATEGORY}/{file_name}"
        labels[key] = [_stamp(row) for row in series.labels]
        windows[key] = [
            [f"{_stamp(a)}.000000", f"{_stamp(b)}.000000"]
            for a, b in windows_of(len(series.counts), series.labels)
        ]
    for name, content in (("combined_labels.json", labels), ("combined_windows.json", windows)):
        (folder / name).write_text(json.dumps(content, indent=4) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.synthetic", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the series")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument(
        "--noise", choices=sorted(NOISE), default="mild", help="texture of the series"
    )
    parser.add_argument(
        "--set",
        choices=sorted(SETS),
        default="all",
        help="all: two series of each kind; sparse: four like the unseen sparse brand",
    )
    args = parser.parse_args(argv)
    if args.weeks < 7:
        print(
            "--weeks: at least 7 (warm-up, probation and a week-long storm need room)",
            file=sys.stderr,
        )
        return 2
    made = generate(args.seed, args.weeks, noise=NOISE[args.noise], kinds=args.set)
    write(args.out, made)
    total = sum(len(s.labels) for s in made)
    print(f"wrote {len(made)} series, {total} labels, to {args.out}")
    print(f"synthetic-series: {len(made)} series")
    return 0


if __name__ == "__main__":
    sys.exit(main())
