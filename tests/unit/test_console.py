"""The console's pure parts: CSRF tokens, signed links, the chart, who is looking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stormwatch.console import csrf
from stormwatch.console.chart import HEIGHT, chart_of
from stormwatch.console.links import BadLink, ExpiredLink, alert_link, open_link
from stormwatch.console.web import NotSignedIn, viewer_of
from stormwatch.model import BucketCounts

KEY = b"k" * 64
NOW = datetime(2026, 12, 24, 3, 0, tzinfo=UTC)
BRANDS = ["nordwind-air", "kolibri-pay"]


def test_a_csrf_token_is_good_for_its_person_until_it_expires() -> None:
    token = csrf.issue(KEY, "sub-ben", NOW)
    assert csrf.is_valid(KEY, "sub-ben", token, NOW + timedelta(hours=1))
    assert not csrf.is_valid(KEY, "sub-anna", token, NOW)
    assert not csrf.is_valid(KEY, "sub-ben", token, NOW + csrf.VALIDITY)
    assert not csrf.is_valid(b"x" * 64, "sub-ben", token, NOW)
    expiry, _, mac = token.partition(".")
    # (an expiry pushed later is refused by the MAC, and one beyond the window at once)
    assert not csrf.is_valid(KEY, "sub-ben", f"{int(expiry) + 60}.{mac}", NOW)
    assert not csrf.is_valid(KEY, "sub-ben", f"{int(expiry) + 10**6}.{mac}", NOW)
    for broken in (None, "", ".", "abc.def", expiry):
        assert not csrf.is_valid(KEY, "sub-ben", broken, NOW)


def test_an_alerts_link_fits_an_sms_and_opens_its_alert_until_it_expires() -> None:
    alert_id = "kolibri-pay-20261224-0245"
    path = alert_link(KEY, alert_id, BRANDS, NOW, nonce="abc")
    assert len(path) == len("/l/") + 13 + 1 + 10
    opened = open_link(KEY, path.removeprefix("/l/"), BRANDS, NOW + timedelta(hours=23))
    assert opened.alert_id == alert_id
    assert opened.expires_at == NOW + timedelta(hours=24)
    with pytest.raises(ExpiredLink):
        open_link(KEY, path.removeprefix("/l/"), BRANDS, NOW + timedelta(hours=24))
    # Every message gets its own link (single use is per link)
    assert alert_link(KEY, alert_id, BRANDS, NOW) != alert_link(KEY, alert_id, BRANDS, NOW)


@pytest.mark.parametrize("position", range(13))
def test_a_link_changed_anywhere_in_its_id_is_not_ours(position: int) -> None:
    token = alert_link(KEY, "nordwind-air-20261224-0245", BRANDS, NOW).removeprefix("/l/")
    changed = "1" if token[position] != "1" else "2"
    with pytest.raises(BadLink):
        open_link(KEY, token[:position] + changed + token[position + 1 :], BRANDS, NOW)


def test_a_link_whose_brands_moved_is_refused_not_opened_for_another_brand() -> None:
    token = alert_link(KEY, "nordwind-air-20261224-0245", BRANDS, NOW).removeprefix("/l/")
    with pytest.raises(BadLink):
        open_link(KEY, token, list(reversed(BRANDS)), NOW)


def test_the_chart_scales_volume_to_the_busiest_bucket_and_share_to_100_percent() -> None:
    # Given two buckets of one channel in the last 24 hours
    bucket = timedelta(minutes=5)
    end = NOW
    series = {
        end - bucket: BucketCounts(total=10, negative=5),
        end - 2 * bucket: BucketCounts(total=5, negative=0),
    }
    # When the chart is drawn
    chart = chart_of("x", series, end, bucket)
    # Then volume reaches the top at the busiest bucket and share is drawn to scale
    assert chart.total == 15
    assert chart.negative_share == pytest.approx(1 / 3)
    assert chart.peak == 10
    last_volume = chart.volume_points.split()[-1]
    last_share = chart.negative_path.split()[-1]
    assert float(last_volume.split(",")[1]) == pytest.approx(1.0)  # the top
    assert last_share.startswith("L")
    assert float(last_share.split(",")[1]) == pytest.approx((HEIGHT - 1) - 0.5 * (HEIGHT - 2))
    assert len(chart.volume_points.split()) == 24 * 12
    assert chart_of("x", {}, end, bucket).negative_share is None


def test_a_bucket_of_one_negative_mention_draws_no_share_line() -> None:
    # Given a quiet night: one negative mention, then two busier buckets apart
    bucket = timedelta(minutes=5)
    end = NOW
    series = {
        end - 10 * bucket: BucketCounts(total=1, negative=1),
        end - 5 * bucket: BucketCounts(total=8, negative=2),
        end - bucket: BucketCounts(total=6, negative=6),
    }
    # When the chart is drawn
    chart = chart_of("x", series, end, bucket)
    # Then the share line has only the two busier buckets, each its own segment,
    # and nothing near the top for the lone post
    segments = chart.negative_path.split()
    assert [s[0] for s in segments] == ["M", "M"]
    lone_x = (24 * 12 - 10) * (320 / (24 * 12 - 1))
    assert all(abs(float(s[1:].split(",")[0]) - lone_x) > 1 for s in segments)
    assert chart.negative_share == pytest.approx(9 / 15)


def _event(claims: object) -> dict[str, object]:
    return {"requestContext": {"authorizer": {"jwt": {"claims": claims}}}}


def test_groups_come_from_the_verified_claims_as_api_gateway_passes_them() -> None:
    claims = {"sub": "s1", "cognito:username": "ben", "cognito:groups": "[approver publisher]"}
    viewer = viewer_of(_event(claims))
    assert viewer.groups == {"approver", "publisher"}
    assert viewer_of(_event({**claims, "cognito:groups": ["viewer", "admin"]})).groups == {"viewer"}
    assert viewer_of(_event({"sub": "s2", "username": "erik"})).groups == frozenset()
    with pytest.raises(NotSignedIn):
        viewer_of({"requestContext": {"authorizer": {"iam": {"userArn": "arn"}}}})


class _Secrets:
    def get(self, name: str, max_age: int) -> str:
        assert name == "stormwatch/dev/console"
        return KEY.decode()


class _Clients:
    def secrets(self) -> _Secrets:
        return _Secrets()


def test_the_evaluator_signs_links_only_when_the_stack_has_a_console_url() -> None:
    from stormwatch.warn.service import console_links

    clients: Any = _Clients()
    assert console_links(clients, BRANDS, {"CONSOLE_SECRET_NAME": "x", "CONSOLE_URL": ""}) is None
    links = console_links(
        clients,
        BRANDS,
        {
            "CONSOLE_URL": "https://console.example/",
            "CONSOLE_SECRET_NAME": "stormwatch/dev/console",
        },
    )
    assert links is not None
    url = links("nordwind-air-20261224-0245", NOW)
    assert url.startswith("https://console.example/l/")
    token = url.rsplit("/", 1)[1]
    assert open_link(KEY, token, BRANDS, NOW).alert_id == "nordwind-air-20261224-0245"


def test_the_console_handler_imports_nothing_a_request_may_not_need() -> None:
    import subprocess
    import sys
    from pathlib import Path

    app = Path(__file__).resolve().parents[2] / "functions" / "console" / "app.py"
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('console_app', {str(app)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "heavy = {'jinja2', 'stormwatch.act.service', 'stormwatch.warn.render', 'PIL'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
