"""The demo's last part: the crisis report of the storm's alert, written to `out/demo/`.

Made from what the local stack's table holds after the Listen, Warn and Act parts, with
the same code the Act function's report route runs (`review.sources.read_report`, then
the HTML), at the demo's own clock: the moment its last step happened."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from local.stack import LocalStack
from stormwatch.persistence.table import Table
from stormwatch.review.render import duration, report_html
from stormwatch.review.report import CrisisReport
from stormwatch.review.sources import read_report


@dataclass(frozen=True, slots=True)
class WrittenReport:
    report: CrisisReport
    html: Path
    json: Path
    seconds: float


def write_report(
    stack: LocalStack, console: TextIO, *, alert_id: str, now: datetime, out: Path
) -> WrittenReport:
    started = time.monotonic()
    table = Table(stack.client("dynamodb"), stack.outputs["TableName"])
    report = read_report(table, stack.config(), alert_id, now)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / "report.html", out / "report.json"
    html_path.write_text(report_html(report), encoding="utf-8")
    json_path.write_text(
        json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    seconds = time.monotonic() - started
    console.write(
        f"\n  Review: the crisis report of {alert_id}: {html_path} (and {json_path.name})\n"
        f"    time to alert {duration(report.time_to_alert)}, to acknowledge "
        f"{duration(report.time_to_acknowledge)}, to statement "
        f"{duration(report.time_to_statement)} (from the first abnormal bucket, "
        f"{report.first_abnormal_at:%a %H:%M} UTC); made in {seconds:.1f} s\n"
    )
    return WrittenReport(report, html_path, json_path, seconds)
