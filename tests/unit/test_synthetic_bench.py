"""bench.synthetic: known labels in NAB's format, deterministic from the seed; and
bench.nab --cv's leave-one-series-out choice."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from bench import nab, synthetic

WEEKS = 7
ROWS = WEEKS * 7 * synthetic.BUCKETS_PER_DAY


CHECKED = ("sparse_a", "longstorm_b", "levelshift_b")


@cache
def made() -> tuple[synthetic.Series, ...]:
    return tuple(synthetic.generate(seed=3, weeks=WEEKS, names=CHECKED))


def by_name(name: str) -> synthetic.Series:
    return next(s for s in made() if s.name == name)


def test_every_kind_twice_with_labels_after_the_warm_up() -> None:
    assert sorted(synthetic.VARIANTS) == sorted([*synthetic.KINDS, *synthetic.SPARSE_KINDS])
    assert all(len(synthetic.VARIANTS[kind]) == 2 for kind in synthetic.KINDS)
    assert [s.name for s in made()] == list(CHECKED)
    for series in made():
        assert len(series.counts) == ROWS
        assert all(isinstance(c, int) and c >= 0 for c in series.counts)
        assert series.labels == sorted(series.labels)
        assert series.labels[0] >= synthetic.FIRST_LABEL_DAY * synthetic.BUCKETS_PER_DAY
        assert series.labels[-1] < ROWS


def test_the_kinds_look_like_their_names() -> None:
    sparse = by_name("sparse_a")
    assert statistics.median(sparse.counts) <= 3
    assert max(sparse.counts[i] for i in range(sparse.labels[0], sparse.labels[0] + 288)) >= 10
    storm = by_name("longstorm_b")
    median = statistics.median(storm.counts)
    for burst in storm.labels[1:]:
        assert max(storm.counts[burst : burst + 36]) > 50 * median
    shift = by_name("levelshift_b")
    step = shift.labels[0]
    before = statistics.mean(shift.counts[step - 2016 : step])
    after = statistics.mean(shift.counts[step + 2016 : step + 4032])
    assert 2.0 < after / before < 3.0


def test_the_same_seed_gives_the_same_series_and_another_seed_others() -> None:
    (again,) = synthetic.generate(seed=3, weeks=WEEKS, names=["sparse_a"])
    assert again == made()[0]
    other = synthetic.KINDS["sparse"](random.Random("x"), ROWS, 0.4)[1]
    assert other != by_name("sparse_a").labels


def test_windows_are_nab_windows() -> None:
    # int(0.10 * rows / labels) rows centred on each label; overlapping ones merge.
    assert synthetic.windows_of(1000, [500]) == [(450, 550)]
    assert synthetic.windows_of(1000, [200, 800]) == [(175, 225), (775, 825)]
    assert synthetic.windows_of(1000, [500, 520]) == [(475, 545)]


def test_the_written_folder_is_read_and_scored_by_the_nab_bench(tmp_path: Path) -> None:
    first = made()[0]
    short = synthetic.Series(first.name, first.kind, first.counts[:3000], [1000, 2000])
    synthetic.write(tmp_path, [short])
    files = nab.series_files(tmp_path)
    assert [f.name for f in files] == ["sparse_a.csv"]
    rows = nab.read_series(files[0])
    windows = nab.read_windows(tmp_path / nab.WINDOWS_FILE)
    assert len(rows) == 3000
    ranges = nab.window_rows([r.moment for r in rows], windows["sparse_a.csv"])
    assert ranges == synthetic.windows_of(3000, short.labels) == [(925, 1075), (1925, 2075)]
    perfect = [i in {a for a, _ in ranges} for i in range(3000)]
    score = nab.score_file(
        "sparse_a.csv", [r.moment for r in rows], perfect, windows["sparse_a.csv"]
    )
    assert score.raw == pytest.approx(len(ranges))


def test_cv_chooses_on_the_other_series_and_scores_the_one_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two short series; the detector never leaves warm-up, so each setting scores the
    # null detector (0): the choice falls on the first listed, and the report says so.
    short = [synthetic.Series(s.name, s.kind, s.counts[:400], [300]) for s in made()[:2]]
    synthetic.write(tmp_path, short)
    files = nab.series_files(tmp_path)
    series = {f.name: nab.read_series(f) for f in files}
    windows = nab.read_windows(tmp_path / nab.WINDOWS_FILE)
    designs = {"shipped": ({},), "rarer": ({"watch_return_days": "28"},)}
    pooled = nab.cross_validate_series(
        series, windows, files, tmp_path / "cache", designs, workers=1
    )
    out = capsys.readouterr().out
    assert pooled == pytest.approx(0.0)
    assert out.count("chose shipped") == 2
    assert list((tmp_path / "cache").glob("*.json"))


def test_the_reference_detector_alerts_once_per_episode() -> None:
    # Hourly sums of 24 for two days; a burst of 30 a bucket passes 4 x 24 on its third
    # bucket (2 x 10 + 30 x 3 = 110); its rekindling 2.5 h later is the same episode.
    start = datetime(2015, 3, 2, tzinfo=UTC)
    values = [2] * 600 + [30] * 24 + [2] * 30 + [30] * 6 + [2] * 200
    rows = [nab.Row("", start + i * timedelta(minutes=5), v) for i, v in enumerate(values)]
    starts = nab.hour_median_starts(rows)
    assert [i for i, fired in enumerate(starts) if fired] == [602]


def test_bursty_noise_is_burstier_than_mild() -> None:
    (bursty,) = synthetic.generate(
        seed=3, weeks=WEEKS, names=["levelshift_b"], noise=synthetic.NOISE["bursty"]
    )
    mild = by_name("levelshift_b")
    assert bursty.labels == mild.labels
    quiet = slice(0, mild.labels[0])
    assert statistics.pstdev(bursty.counts[quiet]) > 2 * statistics.pstdev(mild.counts[quiet])


def test_the_sparse_set_is_four_sparse_brands_with_four_slow_storms_and_spikes() -> None:
    # Given the sparse set (the unseen sparse brand of issue 12, as described)
    (series,) = synthetic.generate(seed=3, weeks=WEEKS, names=["sparseslow_a"], kinds="sparse")
    assert [v for v, _, _ in synthetic.VARIANTS["sparseslow"]] == ["a", "b", "c", "d"]
    # Then it counts 0-3 a bucket, with four labelled storms whose busiest buckets reach
    # 10 or more, and unlabelled spikes of 5 or more outside them
    assert statistics.median(series.counts) <= 3
    assert len(series.labels) == 4
    day = synthetic.BUCKETS_PER_DAY
    for onset in series.labels:
        assert max(series.counts[onset : onset + 2 * day]) >= 10
    quiet = series.counts[: series.labels[0]]
    assert sum(count >= 5 for count in quiet) > series.labels[0] // day
