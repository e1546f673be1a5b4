"""One-time EventBridge Scheduler schedules that invoke a function once, at a given time:
our queue's posts (`schedulers.queue`) and a pause's auto-resume (`act.wiring`).

Made and removed idempotently: a schedule that already exists was made by an earlier try
of the same step (its name says which), and one already gone has run or was removed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from stormwatch.channels.schedulers.base import as_utc


class OneTimeSchedules:
    def __init__(
        self,
        client: Any,
        group: str,
        function_arn: str,
        role_arn: str,
        dead_letter_arn: str | None = None,
        *,
        description: str | None = None,
    ) -> None:
        self._client = client
        self._description = description
        self._group = group
        self._function_arn = function_arn
        self._role_arn = role_arn
        self._dead_letter_arn = dead_letter_arn

    def create(self, name: str, at: datetime, event: Mapping[str, Any]) -> None:
        target: dict[str, Any] = {
            "Arn": self._function_arn,
            "RoleArn": self._role_arn,
            "Input": json.dumps(dict(event)),
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
        }
        if self._dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self._dead_letter_arn}
        extra = {"Description": self._description} if self._description else {}
        try:
            self._client.create_schedule(
                Name=name,
                GroupName=self._group,
                ScheduleExpression=f"at({as_utc(at).strftime('%Y-%m-%dT%H:%M:%S')})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                State="ENABLED",
                Target=target,
                **extra,
            )
        except self._client.exceptions.ConflictException:
            return  # an earlier try of the same step made it

    def delete(self, name: str) -> None:
        try:
            self._client.delete_schedule(Name=name, GroupName=self._group)
        except self._client.exceptions.ResourceNotFoundException:
            return

    def exists(self, name: str) -> bool:
        try:
            self._client.get_schedule(Name=name, GroupName=self._group)
        except self._client.exceptions.ResourceNotFoundException:
            return False
        return True
