"""What a function's role in the translated template allows, judged as IAM would for the
calls the local stack recorded: moto enforces no IAM, so the tests do it here.

Only what the template uses is understood: Allow statements (a Deny is refused outright,
it would hide what a role may do), actions with `*`, and the `dynamodb:LeadingKeys`
condition under `ForAllValues:StringLike`. Other conditions (`kms:ViaService`,
`iam:PassedToService`) depend on who calls on whose behalf, which a recorded call does not
say; they count as met.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

LEADING_KEYS = "dynamodb:LeadingKeys"
FOR_ALL_LIKE = "ForAllValues:StringLike"


def role_statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """Every statement of the function's role: its inline policies and each IAM policy
    resource attached to it."""
    resources = template["Resources"]
    role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    documents = [p["PolicyDocument"] for p in resources[role]["Properties"].get("Policies", [])]
    documents += [
        resource["Properties"]["PolicyDocument"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy"
        and {"Ref": role} in resource["Properties"].get("Roles", [])
    ]
    statements = [statement for document in documents for statement in document["Statement"]]
    assert all(s["Effect"] == "Allow" for s in statements), f"{role} has a Deny"
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def leading_keys(statement: dict[str, Any]) -> list[str] | None:
    """The partition key patterns a statement is limited to; None when it is not."""
    patterns = statement.get("Condition", {}).get(FOR_ALL_LIKE, {}).get(LEADING_KEYS)
    if patterns is None:
        return None
    return [patterns] if isinstance(patterns, str) else list(patterns)


def allows(statements: list[dict[str, Any]], action: str, partition: str | None = None) -> bool:
    """Whether one of `statements` allows `action` on `partition` (a DynamoDB item's
    partition key); without a partition, whether it allows the action on some item."""
    for statement in statements:
        if not any(fnmatchcase(action, granted) for granted in actions_of(statement)):
            continue
        patterns = leading_keys(statement)
        if patterns is None or partition is None:
            return True
        if any(fnmatchcase(partition, pattern) for pattern in patterns):
            return True
    return False


def refused_calls(
    template: dict[str, Any],
    function: str,
    actions: set[str],
    partitions: set[tuple[str, str]],
) -> set[str]:
    """What a function called that its role would refuse: the actions, then each
    DynamoDB action on the partition it touched (`LocalStack.table_partitions`)."""
    statements = role_statements(template, function)
    refused = {action for action in actions if not allows(statements, action)}
    refused |= {
        f"{action} on {partition}"
        for action, partition in partitions
        if not allows(statements, action, partition)
    }
    return refused
