"""Every action each function's role grants, and how we know it is needed.

`SEEN`: a test that runs the function on the local stack records the call and asserts it
(`assert_seen`): the warn flow (poller, evaluator), the Act API (Act, release), the
console, and publish_scheduled's parking test. Anything else carries its reason here.
tests/integration/test_template.py fails on a granted action missing from this table,
so a grant nothing uses cannot creep back in.
"""

from __future__ import annotations

SEEN = "seen"

# Services that encrypt with the stack's key do so as the caller (kms:ViaService); the
# call is theirs, so no recording of ours sees it.
TABLE_KEY = "DynamoDB reads and writes the KMS-encrypted table as the caller"
SECRET_KEY = "Secrets Manager decrypts the secret as the caller"
CONFIG_KEY = "SSM decrypts the SecureString config as the caller"
REPORT_KEY = "S3 decrypts a crisis report (bucket encryption with the stack's key) as the reader"
DEAD_LETTER = "Lambda's on-failure destination sends to the encrypted queue as the role"
DEAD_LETTER_KEY = "SQS encrypts the dead letter with the stack's key as the sender"

_COMMON = {
    "dynamodb:Query": SEEN,
    "dynamodb:PutItem": SEEN,
    "dynamodb:UpdateItem": SEEN,
    "ssm:GetParameter": SEEN,
    "kms:Decrypt": f"{TABLE_KEY}; {CONFIG_KEY}",
    "kms:GenerateDataKey": TABLE_KEY,
    "sqs:SendMessage": DEAD_LETTER,
}

STREAM = "Lambda's event source mapping reads the table's stream as the function's role"

GRANTED: dict[str, dict[str, str]] = {
    "PollMentionsFunction": {
        **{action: why for action, why in _COMMON.items() if action != "dynamodb:PutItem"},
        "dynamodb:BatchWriteItem": SEEN,
        "secretsmanager:GetSecretValue": SEEN,
        "comprehend:BatchDetectSentiment": (
            "only with ComprehendSentiment=on; moto has no batch_detect_sentiment"
        ),
    },
    "CountMentionsFunction": {
        "dynamodb:Query": "the shard's position, read after a batch found it counted already "
        "(tests/integration/test_stream_counting.py)",
        "dynamodb:UpdateItem": SEEN,
        "dynamodb:DescribeStream": STREAM,
        "dynamodb:GetRecords": STREAM,
        "dynamodb:GetShardIterator": STREAM,
        "dynamodb:ListStreams": STREAM,
        "kms:Decrypt": TABLE_KEY,
        "kms:GenerateDataKey": TABLE_KEY,
    },
    "EvaluateAlertsFunction": {
        **_COMMON,
        "sns:Publish": SEEN,
        "lambda:InvokeFunction": SEEN,
        "secretsmanager:GetSecretValue": (
            "the console's key, to sign alert links: only with a ConsoleUrl "
            "(tests/integration/test_console.py runs the evaluator with one)"
        ),
    },
    "PublishScheduledFunction": {
        **_COMMON,
        "secretsmanager:GetSecretValue": SEEN,
    },
    "ActFunction": {
        **_COMMON,
        "secretsmanager:GetSecretValue": SEEN,
        "scheduler:CreateSchedule": SEEN,
        "scheduler:DeleteSchedule": "parking our queue's posts cancels their schedules",
        "scheduler:GetSchedule": "a restore after a crash looks for the schedule it made",
        "iam:PassRole": "creating a schedule hands EventBridge Scheduler its role",
        "s3:PutObject": "the crisis report: test_crisis_report_api.py sees the put",
        "s3:GetObject": "the crisis report's presigned link is signed for GetObject",
    },
    "ReleaseStatementFunction": {
        **_COMMON,
        "secretsmanager:GetSecretValue": SEEN,
        "sns:Publish": SEEN,
        "scheduler:DeleteSchedule": SEEN,
        "s3:PutObject": SEEN,
        "s3:GetObject": "Instagram fetches the image card by a presigned GetObject link",
    },
    "ConsoleFunction": {
        "dynamodb:Query": SEEN,
        "dynamodb:PutItem": "a signed link's use (LINK#): test_console.py's link tests",
        "ssm:GetParameter": SEEN,
        "secretsmanager:GetSecretValue": SEEN,
        "lambda:InvokeFunction": SEEN,
        "s3:GetObject": SEEN,
        "kms:Decrypt": f"{TABLE_KEY}; {SECRET_KEY}; {CONFIG_KEY}; {REPORT_KEY}",
        "kms:GenerateDataKey": TABLE_KEY,
        "sqs:SendMessage": DEAD_LETTER,
    },
}


def seen(function: str) -> set[str]:
    """The actions of `function` that a test must see it call."""
    return {action for action, why in GRANTED[function].items() if why == SEEN}


def assert_seen(function: str, called: set[str]) -> None:
    missing = seen(function) - called
    assert not missing, f"{function} was granted, but no longer calls: {sorted(missing)}"
