"""Monthly spending caps shared by every function (today: Amazon Comprehend's)."""

from __future__ import annotations

from datetime import UTC, datetime

from stormwatch.persistence import keys
from stormwatch.persistence.table import Table, condition_failed


class MonthlyBudget:
    """A spending cap for one paid service, shared by every poller.

    Each batch asks first; the spend is added atomically only while it stays under the
    limit, so concurrent pollers cannot overspend together.
    """

    def __init__(self, table: Table, service: str, monthly_limit_usd: float, now: datetime) -> None:
        self.table = table
        self.service = service
        self.limit_micro = int(monthly_limit_usd * 1_000_000)
        self.month = f"{now.astimezone(UTC):%Y-%m}"

    def try_spend(self, usd: float) -> bool:
        from botocore.exceptions import ClientError

        cost = max(1, round(usd * 1_000_000))
        if cost > self.limit_micro:
            return False
        try:
            self.table.call(
                "update_item",
                TableName=self.table.name,
                Key=keys.budget(self.service, self.month),
                UpdateExpression="ADD #spent :cost",
                ConditionExpression="attribute_not_exists(#spent) OR #spent <= :room",
                ExpressionAttributeNames={"#spent": "spent_micro_usd"},
                ExpressionAttributeValues={
                    ":cost": {"N": str(cost)},
                    ":room": {"N": str(self.limit_micro - cost)},
                },
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True
