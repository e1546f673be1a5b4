"""Where crisis reports are kept: the template's ReportsBucket, `reports/<alert id>/`.

The bucket's default encryption (the stack's KMS key) encrypts each object; a report made
again replaces the one before (same keys), so a link to `report.html` shows the latest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

LINK_VALID_SECONDS = 24 * 3600
"""A presigned link outlives a night's shift; a stable link needs a console URL."""


class ObjectStorage(Protocol):
    def put_object(self, **kwargs: Any) -> Any: ...

    def get_object(self, **kwargs: Any) -> Any: ...

    def generate_presigned_url(self, ClientMethod: str, **kwargs: Any) -> str: ...


@dataclass(frozen=True, slots=True)
class StoredReport:
    html_key: str
    json_key: str
    url: str
    """A presigned GET of the HTML, valid `LINK_VALID_SECONDS`."""


def report_keys(alert_id: str) -> tuple[str, str]:
    return f"reports/{alert_id}/report.html", f"reports/{alert_id}/report.json"


class ReportStore:
    def __init__(self, s3: ObjectStorage, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def put(self, alert_id: str, html: str, document: dict[str, Any]) -> StoredReport:
        html_key, json_key = report_keys(alert_id)
        self.s3.put_object(
            Bucket=self.bucket,
            Key=json_key,
            Body=json.dumps(document, ensure_ascii=False, indent=1).encode(),
            ContentType="application/json",
        )
        # HTML last: whoever sees the page can also find its JSON.
        self.s3.put_object(
            Bucket=self.bucket,
            Key=html_key,
            Body=html.encode(),
            ContentType="text/html; charset=utf-8",
            ContentDisposition="inline",
        )
        return StoredReport(html_key, json_key, self.link(alert_id))

    def link(self, alert_id: str) -> str:
        return self.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": report_keys(alert_id)[0]},
            ExpiresIn=LINK_VALID_SECONDS,
        )

    def read_html(self, alert_id: str) -> str | None:
        """The stored report's page; None while there is none (it is made on resolve)."""
        from botocore.exceptions import ClientError

        try:
            stored = self.s3.get_object(Bucket=self.bucket, Key=report_keys(alert_id)[0])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return str(stored["Body"].read().decode("utf-8"))
