"""SNS: the only module that sends anything to people.

A delivery is one message on one path:
- ``email``: the alerts topic with ``channel=email`` (the team list's subscription);
- ``sms_topic``: the alerts topic with ``channel=sms`` (the fallback phone's subscription,
  whose filter policy lets severity 2 and up through);
- ``sms``: one person's phone, directly (whoever the roster says is on call);
- ``ops_email``: the ops topic ("monitoring is blind").

Message attributes (severity, brand, kind, channel) let each subscription's filter policy
pick what it should get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EMAIL = "email"
SMS_TOPIC = "sms_topic"
SMS = "sms"
OPS_EMAIL = "ops_email"


@dataclass(frozen=True, slots=True)
class Delivery:
    medium: str
    severity: int
    brand: str
    kind: str
    alert_id: str
    subject: str = ""
    text: str = ""
    phone: str = ""

    def as_payload(self) -> dict[str, Any]:
        return {
            "medium": self.medium,
            "severity": self.severity,
            "brand": self.brand,
            "kind": self.kind,
            "alert_id": self.alert_id,
            "subject": self.subject,
            "text": self.text,
            "phone": self.phone,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Delivery:
        return cls(
            medium=str(payload["medium"]),
            severity=int(payload["severity"]),
            brand=str(payload["brand"]),
            kind=str(payload["kind"]),
            alert_id=str(payload["alert_id"]),
            subject=str(payload.get("subject", "")),
            text=str(payload.get("text", "")),
            phone=str(payload.get("phone", "")),
        )


class SnsNotifier:
    def __init__(self, client: Any, alerts_topic_arn: str, ops_topic_arn: str) -> None:
        self.client = client
        self.alerts_topic = alerts_topic_arn
        self.ops_topic = ops_topic_arn

    def send(self, delivery: Delivery) -> str:
        """Publish one delivery; returns SNS's message id, raises what SNS raises."""
        attributes = {
            "severity": {"DataType": "Number", "StringValue": str(delivery.severity)},
            "kind": {"DataType": "String", "StringValue": delivery.kind},
            "alert": {"DataType": "String", "StringValue": delivery.alert_id},
        }
        if delivery.brand:
            attributes["brand"] = {"DataType": "String", "StringValue": delivery.brand}
        if delivery.medium in (EMAIL, OPS_EMAIL):
            answer = self.client.publish(
                TopicArn=self.alerts_topic if delivery.medium == EMAIL else self.ops_topic,
                Subject=delivery.subject,
                Message=delivery.text,
                MessageAttributes={
                    **attributes,
                    "channel": {"DataType": "String", "StringValue": "email"},
                },
            )
        elif delivery.medium == SMS_TOPIC:
            answer = self.client.publish(
                TopicArn=self.alerts_topic,
                Message=delivery.text,
                MessageAttributes={
                    **attributes,
                    "channel": {"DataType": "String", "StringValue": "sms"},
                },
            )
        elif delivery.medium == SMS:
            answer = self.client.publish(
                PhoneNumber=delivery.phone,
                Message=delivery.text,
                MessageAttributes={
                    # Alerts must arrive at night too: transactional SMS are not delayed.
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
                },
            )
        else:
            raise ValueError(f"unknown delivery medium {delivery.medium!r}")
        return str(answer["MessageId"])
