"""The crisis report through the Act API on the local stack: `POST /alerts/{id}/report`
reads the alert's timeline, buckets, mentions and parked posts from the table, stores the
HTML and JSON in the template's reports bucket (encrypted with the stack's key) and
answers a presigned link; the Act function's calls stay within its role."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from local.stack import LocalStack
from ops.cli import main as cli_main
from ops.transport import LocalTransport
from stormwatch.model import BucketCounts, BucketKey, bucket_start
from stormwatch.persistence.buckets import BucketStore
from stormwatch.review.store import LINK_VALID_SECONDS
from stormwatch.warn.lifecycle import ActiveAlert, alert_id_of
from tests.integration.test_act_api import BEN, _allowed, _configure, _ok, as_
from tests.integration.test_alert_timeline import BRAND, _table, _warn_writes


@pytest.fixture(scope="module")
def act(stack: LocalStack) -> LocalStack:
    _configure(stack)
    return stack


@pytest.fixture(scope="module")
def alert(act: LocalStack) -> ActiveAlert:
    """A resolved alert of two hours that started 6 hours ago, acknowledged after 25 min,
    with a quiet day before it and a storm on X during it."""
    started = bucket_start(datetime.now(UTC) - timedelta(hours=6), 5)
    alert = ActiveAlert(
        id=alert_id_of(BRAND, started),
        started_at=started,
        severity=3,
        peak_severity=3,
        peak_at=started,
        acknowledged_by="anna",
        acknowledged_at=started + timedelta(minutes=25),
    )
    _warn_writes(
        act,
        alert,
        [("started", started + timedelta(minutes=10))],
        resolved_at=started + timedelta(hours=2),
    )
    history = {
        BucketKey(BRAND, "x", started - timedelta(minutes=5 * i)): BucketCounts(total=4, negative=1)
        for i in range(1, 12 * 24)
    } | {
        BucketKey(BRAND, "x", started + timedelta(minutes=5 * i)): BucketCounts(
            total=50, negative=40
        )
        for i in range(24)
    }
    BucketStore(_table(act)).import_history(history)
    return alert


def test_the_report_is_stored_encrypted_and_linked_for_a_day(
    act: LocalStack, alert: ActiveAlert
) -> None:
    # When Ben asks for the alert's report
    answer = _ok(as_(act, BEN).request("POST", f"/alerts/{alert.id}/report", {}))
    # Then its HTML and JSON are in the reports bucket, encrypted with the stack's key
    s3, bucket = act.client("s3"), act.outputs["ReportsBucketName"]
    assert answer["html_key"] == f"reports/{alert.id}/report.html"
    html = s3.get_object(Bucket=bucket, Key=answer["html_key"])
    assert html["ContentType"].startswith("text/html")
    assert html["ServerSideEncryption"] == "aws:kms"
    document = json.loads(s3.get_object(Bucket=bucket, Key=answer["json_key"])["Body"].read())
    # ...with the durations from the first abnormal bucket
    assert document["durations_seconds"]["to_alert"] == 600
    assert document["durations_seconds"]["to_acknowledge"] == 25 * 60
    assert document["durations_seconds"]["to_statement"] is None
    assert answer["durations_seconds"] == document["durations_seconds"]
    x = document["figures"]["x"]
    assert x["before"]["negative_share"] == 0.25
    assert x["during"]["negative_share"] == 0.8
    # And the link is a presigned GET valid a day that opens the page
    query = parse_qs(urlsplit(answer["url"]).query)
    assert query["X-Amz-Expires"] == [str(LINK_VALID_SECONDS)]
    fetched = requests.get(answer["url"], timeout=10)
    assert fetched.status_code == 200
    assert "<svg" in fetched.text


def test_an_alert_of_no_configured_brand_is_404_and_a_malformed_id_400(act: LocalStack) -> None:
    unknown = as_(act, BEN).request("POST", "/alerts/no-such-brand-20261224-0900/report", {})
    assert unknown.status == 404
    malformed = as_(act, BEN).request("POST", "/alerts/Not_An_Id!/report", {})
    assert malformed.status == 400


def test_the_command_line_prints_the_reports_link_and_durations(
    act: LocalStack, alert: ActiveAlert
) -> None:
    # Given the local stack's transport as Ben
    out = io.StringIO()
    # When he runs `stormwatch report ALERT_ID`
    code = cli_main(["report", alert.id], transport=LocalTransport(act, BEN), out=out)
    # Then it prints the link and the key durations
    printed = out.getvalue()
    assert code == 0, printed
    assert "time to alert 10 min" in printed
    assert "to acknowledge 25 min" in printed
    assert "X-Amz-Signature" in printed


def test_the_act_functions_report_calls_are_within_its_role(
    act: LocalStack, alert: ActiveAlert
) -> None:
    # Given the reports made in this module (moto does not enforce IAM)
    called = act.aws_actions["ActFunction"]
    # Then each call is one the Act function's role allows, the bucket's put included
    assert "s3:PutObject" in called
    assert called <= _allowed(act, "ActFunction"), called - _allowed(act, "ActFunction")
