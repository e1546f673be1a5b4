"""The NAB "standard" scorer of bench.nab against hand-computed cases, and the bench end to end."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import nab
from bench.nab import FileScore, Window, normalised, probationary_rows, scaled_sigmoid, score_file

T0 = datetime(2015, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)
NAB_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "nab-tweets"


def times(n: int) -> list[datetime]:
    return [T0 + i * STEP for i in range(n)]


def window(first: int, last: int) -> Window:
    return Window(T0 + first * STEP, T0 + last * STEP)


def alerts_at(n: int, *rows: int) -> list[bool]:
    flags = [False] * n
    for row in rows:
        flags[row] = True
    return flags


# 100 rows: rows 0-14 are probationary (floor(0.15 * 100)); one window, rows 40-49.
N = 100
WINDOW = window(40, 49)
S_MINUS_1 = 2 / (1 + math.exp(-5)) - 1  # 0.986614..., the reward at a window's first row


def test_the_scaled_sigmoid_matches_nab() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.9866142981514303)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(0.5) == pytest.approx(-0.8482836399575129)
    assert scaled_sigmoid(3.0) == pytest.approx(2 / (1 + math.exp(15)) - 1)
    assert scaled_sigmoid(3.01) == -1.0


def test_the_probationary_period_is_15_percent_at_most_750_rows() -> None:
    assert probationary_rows(100) == 15
    assert probationary_rows(15_902) == 750
    assert probationary_rows(3) == 0


def test_an_alert_at_the_window_start_earns_one() -> None:
    score = score_file("f", times(N), alerts_at(N, 40), [WINDOW])
    assert score.detected == 1
    assert score.true_positive == pytest.approx(1.0)
    assert score.raw == pytest.approx(1.0)


def test_an_alert_mid_window_earns_by_its_position() -> None:
    # Row 45 of 40..49: position -(49 - 45 + 1)/10 = -0.5
    score = score_file("f", times(N), alerts_at(N, 45), [WINDOW])
    expected = (2 / (1 + math.exp(-2.5)) - 1) / S_MINUS_1
    assert score.true_positive == pytest.approx(expected)
    # By hand: e^-2.5 = 0.0820850; 2/1.0820850 - 1 = 0.8482836; / 0.9866143 = 0.8597926
    assert score.true_positive == pytest.approx(0.8597926, abs=1e-6)


def test_only_the_earliest_alert_in_a_window_counts() -> None:
    score = score_file("f", times(N), alerts_at(N, 45, 41, 48), [WINDOW])
    # Row 41: position -0.9
    assert score.true_positive == pytest.approx((2 / (1 + math.exp(-4.5)) - 1) / S_MINUS_1)
    assert (score.detected, score.false_alerts) == (1, 0)


def test_a_missed_window_costs_one() -> None:
    score = score_file("f", times(N), alerts_at(N), [WINDOW])
    assert (score.detected, score.false_negative, score.raw) == (0, -1.0, -1.0)


def test_a_false_alert_before_any_window_costs_the_full_weight() -> None:
    score = score_file("f", times(N), alerts_at(N, 20, 40), [WINDOW])
    assert score.false_positive == pytest.approx(-0.11)
    assert score.raw == pytest.approx(1.0 - 0.11)


def test_a_false_alert_just_after_a_window_costs_little() -> None:
    # Row 50 is (50 - 49)/(10 - 1) = 1/9 past the end.
    score = score_file("f", times(N), alerts_at(N, 40, 50), [WINDOW])
    assert score.false_positive == pytest.approx(0.11 * (2 / (1 + math.exp(5 / 9)) - 1))
    # By hand: e^(5/9) = 1.7429089; 2/2.7429089 - 1 = -0.2708487; x 0.11 = -0.0297934
    assert score.false_positive == pytest.approx(-0.0297934, abs=1e-6)


def test_a_false_alert_far_after_a_window_costs_the_full_weight() -> None:
    # Row 90: (90 - 49)/9 = 4.6 > 3 past the end
    score = score_file("f", times(N), alerts_at(N, 40, 90), [WINDOW])
    assert score.false_positive == pytest.approx(-0.11)


def test_alerts_in_the_probationary_period_are_not_scored() -> None:
    score = score_file("f", times(N), alerts_at(N, 3, 14, 40), [WINDOW])
    assert (score.false_alerts, score.false_positive, score.raw) == (0, 0.0, 1.0)


def test_a_window_inside_the_probationary_period_does_not_count() -> None:
    score = score_file("f", times(N), alerts_at(N, 40), [window(2, 10), WINDOW])
    assert (score.windows, score.false_negative) == (1, 0.0)


def test_two_windows_hand_computed() -> None:
    # Windows 30-39 and 70-79; alerts at 35 (tp), 45 (fp after the first), 70 (tp), 95 (fp)
    windows = [window(70, 79), window(30, 39)]
    score = score_file("f", times(N), alerts_at(N, 35, 45, 70, 95), windows)
    tp = (2 / (1 + math.exp(-2.5)) - 1) / S_MINUS_1 + 1.0
    fp = 0.11 * (2 / (1 + math.exp(5 * 6 / 9)) - 1) + 0.11 * (2 / (1 + math.exp(5 * 16 / 9)) - 1)
    assert score.true_positive == pytest.approx(tp)
    assert score.false_positive == pytest.approx(fp)
    assert score.raw == pytest.approx(tp + fp)
    assert score.minutes_from_window_start == [25.0, 0.0]


def test_normalisation_runs_from_null_to_perfect() -> None:
    # Given the same two files scored three ways
    windows = [window(30, 39), window(70, 79)]
    null = [score_file(n, times(N), alerts_at(N), windows) for n in "ab"]
    perfect = [score_file(n, times(N), alerts_at(N, 30, 70), windows) for n in "ab"]
    half = [
        score_file("a", times(N), alerts_at(N, 30, 70), windows),
        score_file("b", times(N), alerts_at(N), windows),
    ]
    # Then null is 0, perfect is 100, one file of each is 50
    assert normalised(null) == 0.0
    assert normalised(perfect) == 100.0
    assert normalised(half) == pytest.approx(50.0)
    assert normalised([FileScore("empty", windows=0)]) == 0.0


@pytest.mark.skipif(not NAB_DATA.exists(), reason="NAB data not present")
def test_the_real_files_score_0_for_no_alerts_and_100_for_perfect_ones() -> None:
    windows = nab.read_windows(NAB_DATA / nab.WINDOWS_FILE)
    null, perfect = [], []
    for path in sorted(NAB_DATA.glob(nab.SERIES_GLOB)):
        moments = [row.moment for row in nab.read_series(path)]
        starts = {min(i for i, m in enumerate(moments) if m >= w.start) for w in windows[path.name]}
        null.append(score_file(path.name, moments, [False] * len(moments), windows[path.name]))
        flags = [i in starts for i in range(len(moments))]
        perfect.append(score_file(path.name, moments, flags, windows[path.name]))
    assert sum(s.windows for s in null) == 19
    assert normalised(null) == 0.0
    assert normalised(perfect) == pytest.approx(100.0)


# ------------------------------------------------------------------ the bench end to end


def _write_series(path: Path, days: int, storm_row: int | None, seed: int) -> list[str]:
    rng = random.Random(seed)
    stamps = []
    with path.open("w", encoding="utf-8") as handle:
        handle.write("timestamp,value\n")
        for i in range(days * 288):
            moment = datetime(2015, 2, 26, 21, 42, 53) + i * STEP
            hour = moment.hour + moment.minute / 60
            mean = 20 * (1 + 0.5 * math.sin(2 * math.pi * (hour - 9) / 24))
            value = max(0, round(rng.gauss(mean, math.sqrt(mean))))
            if storm_row is not None and storm_row <= i < storm_row + 24:
                value *= 10
            stamp = moment.strftime("%Y-%m-%d %H:%M:%S")
            stamps.append(stamp)
            handle.write(f"{stamp},{value}\n")
    return stamps


def test_the_bench_writes_alerts_and_scores_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder with two series of that shape (one with a storm) and their windows
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    storm = 9 * 288
    stamps = _write_series(data / "Twitter_volume_STORM.csv", 12, storm, seed=1)
    _write_series(data / "Twitter_volume_CALM.csv", 12, None, seed=2)
    windows = {
        "realTweets/Twitter_volume_STORM.csv": [
            [f"{stamps[storm - 100]}.000000", f"{stamps[storm + 100]}.000000"]
        ],
        "realTweets/Twitter_volume_CALM.csv": [],
    }
    (data / "combined_windows.json").write_text(json.dumps(windows), encoding="utf-8")
    # When the bench runs
    assert nab.main(["--data", str(data), "--out", str(out)]) == 0
    # Then each output has the input's rows and an alert column
    lines = (out / "Twitter_volume_STORM.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "timestamp,value,alert"
    assert len(lines) == 12 * 288 + 1
    alert_rows = [i for i, line in enumerate(lines[1:]) if line.endswith(",1")]
    # And the storm is caught at its first bucket (a 1-in-14-days alert may come on top)
    assert storm in alert_rows
    # And the printed score is the scorer's verdict on the written alerts
    moments = [row.moment for row in nab.read_series(data / "Twitter_volume_STORM.csv")]
    flags = [i in alert_rows for i in range(len(moments))]
    wanted = normalised(
        [
            score_file(
                "s",
                moments,
                flags,
                nab.read_windows(data / nab.WINDOWS_FILE)["Twitter_volume_STORM.csv"],
            )
        ]
    )
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == f"nab: {wanted:.1f}"


def test_without_windows_the_bench_only_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    _write_series(data / "Twitter_volume_X.csv", 2, None, seed=3)
    assert nab.main(["--data", str(data), "--out", str(out)]) == 0
    assert (out / "Twitter_volume_X.csv").exists()
    assert "nab:" not in capsys.readouterr().out


def _bench_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, content: str) -> str:
    """Run the bench on a good series beside the file `bad`; return its error, checking
    that it stopped with status 2, without a traceback and without writing anything."""
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    _write_series(data / "Twitter_volume_GOOD.csv", 2, None, seed=4)
    (data / bad).write_text(content, encoding="utf-8")
    status = nab.main(["--data", str(data), "--out", str(out)])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert "Traceback" not in error
    assert not out.exists(), "nothing is written, not even the good file's alerts"
    return error


GOOD_HEAD = "timestamp,value\n2015-02-26 21:42:53,3\n2015-02-26 21:47:53,5\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timestamp,count\n2015-02-26 21:42:53,3\n", "needs the columns timestamp,value"),
        (GOOD_HEAD + "2015-02-26 21:52:53,abc\n", "line 4: a mention count must be"),
        (GOOD_HEAD + "2015-02-26 21:52:53,-1\n", "line 4: a mention count must be"),
        (GOOD_HEAD + "2015-02-26 21:52:53,2.5\n", "line 4: a mention count must be"),
        (GOOD_HEAD + "2015-02-26 21:52:53,nan\n", "line 4: a mention count must be"),
        (GOOD_HEAD + "26/02/2015 21:52,4\n", "line 4: Invalid isoformat"),
        (GOOD_HEAD + "2015-02-26 21:52:53\n", "line 4: a mention count must be"),
        (GOOD_HEAD + "2015-02-26 21:47:53,4\n", "2015-02-26 21:47:53 appears twice"),
        (GOOD_HEAD + "2015-02-26 21:49:53,4\n", "closer than one 5-minute bucket"),
        ("timestamp,value\n", "no rows after the header"),
    ],
)
def test_a_malformed_series_is_a_clear_error_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    # Given a folder with one good series and one malformed one
    # When the bench runs
    error = _bench_error(tmp_path, capsys, "Twitter_volume_BAD.csv", content)
    # Then it stops with a one-line error naming the file and what is wrong, writing nothing
    assert error.startswith("error: Twitter_volume_BAD.csv")
    assert message in error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{bad", "not valid JSON"),
        ("[]", "expected an object of file name -> windows"),
        ('{"realTweets/Twitter_volume_GOOD.csv": ["2015-02-27"]}', "[start, end] timestamp pairs"),
        ('{"realTweets/Twitter_volume_GOOD.csv": [["2015-02-27", "later"]]}', "Invalid isoformat"),
        (
            '{"realTweets/Twitter_volume_GOOD.csv": [["2015-02-28", "2015-02-27"]]}',
            "a window ends (2015-02-27 00:00:00+00:00) before it starts",
        ),
    ],
)
def test_malformed_windows_are_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    # Given a good series beside a malformed windows file
    # When the bench runs
    error = _bench_error(tmp_path, capsys, nab.WINDOWS_FILE, content)
    # Then it names the windows file and the fault, and writes nothing
    assert error.startswith(f"error: {nab.WINDOWS_FILE}")
    assert message in error


def test_windows_for_other_files_only_score_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a series whose name the windows file does not know
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    _write_series(data / "Twitter_volume_NEW.csv", 2, None, seed=6)
    windows = {"realTweets/Twitter_volume_OTHER.csv": [["2015-03-01", "2015-03-02"]]}
    (data / nab.WINDOWS_FILE).write_text(json.dumps(windows), encoding="utf-8")
    # When the bench runs
    assert nab.main(["--data", str(data), "--out", str(out)]) == 0
    # Then it writes the alerts, says that nothing was scored, and prints no score
    captured = capsys.readouterr()
    assert (out / "Twitter_volume_NEW.csv").exists()
    assert "nothing scored" in captured.err
    assert "nab:" not in captured.out


def test_a_whole_number_written_as_a_decimal_is_read() -> None:
    # Given counts written as 12.0 (as some exports do), When read, Then they are whole counts
    assert nab._count("12.0") == 12
    assert nab._count("0") == 0


def test_the_bounds_take_the_false_alerts_away_and_say_how_early_alerts_must_be(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a file with one window found mid-way and one false alert before it
    start = datetime(2015, 3, 1, tzinfo=UTC)
    rows = [nab.Row(f"r{i}", start + timedelta(minutes=5 * i), 1) for i in range(1000)]
    window = Window(rows[800].moment, rows[899].moment)
    alerts = [i in (300, 850) for i in range(1000)]
    # When the bounds are printed
    nab._bounds({"f.csv": rows}, {"f.csv": alerts}, {"f.csv": [window]})
    out = capsys.readouterr().out
    # Then without the false alert the score is that of the found window alone
    moments = [row.moment for row in rows]
    alone = score_file("f", moments, [i == 850 for i in range(1000)], [window])
    assert f"every false alert taken away: nab {normalised([alone]):.1f}" in out
    centre = score_file("f", moments, [i == 849 for i in range(1000)], [window])
    assert f"caught at its labelled moment: nab {normalised([centre]):.1f}" in out
    # And 85 (raw 0.7 of 1 window) lets the alert come this long after the centre
    share_ahead = math.atanh(0.7 * scaled_sigmoid(-1.0)) / 2.5
    lag = (0.5 - share_ahead) * (99 * 5 / 60)
    assert f"caught up to {lag:.1f} h after its labelled moment" in out


def test_param_overrides_reach_the_detector_and_the_firing_rule() -> None:
    # Given the shipped setup / When one detector and one firing parameter are overridden
    setup = nab.with_overrides(nab.Setup(), {"windows_minutes": "15,60", "cooldown_minutes": "90"})
    # Then each lands in its own parameter set, typed as the config would read it
    assert setup.detector.windows_minutes == (15, 60)
    assert setup.firing.cooldown_minutes == 90
    assert setup.detector.huber_clip == nab.Setup().detector.huber_clip


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"windows_minutes": "15,62"}, "windows_minutes: 62 is not a multiple of bucket_minutes"),
        ({"warmup_days": "1"}, "warmup_days: must be at least 2, got 1"),
        ({"confirm_buckets": "0"}, "confirm_buckets: must be at least 1, got 0"),
        ({"huber": "2"}, "--param huber: unknown parameter"),
    ],
)
def test_a_bad_param_is_refused_naming_it(override: dict[str, str], message: str) -> None:
    with pytest.raises(SystemExit) as caught:
        nab.with_overrides(nab.Setup(), override)
    assert message in str(caught.value)
