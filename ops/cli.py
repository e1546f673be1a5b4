"""Operator commands against a deployed stack (or the local one, via AWS_ENDPOINT_URL).

    stormwatch config check config/prod.yaml
    stormwatch config schema > config/schema.json
    stormwatch config push config/prod.yaml --name /stormwatch/prod/config [--key alias/...]
    stormwatch credentials push secrets.json --secret stormwatch/prod/channels [--replace]
    stormwatch ack nordwind-air-20261122-0305 [--stack NAME | --table stormwatch-prod]
    stormwatch doctor [--stack NAME]             # will a page reach its person? exit 1 if not

    stormwatch statement preview holding --lang de --var situation="..." [--vars-file facts.yaml]
    stormwatch statement submit holding --lang de --vars-file facts.yaml   # prints id and hash
    stormwatch statement show ID
    stormwatch statement approve ID [--accept-warnings]
    stormwatch statement reject ID --reason "..."
    stormwatch statement release ID [--yes]     # dry run and hash-bound texts first, then confirm
    stormwatch pause --alert ALERT_ID [--reason TEXT] [--resume-at ISO | --resume-in 4h]
    stormwatch resume
    stormwatch status
    stormwatch console user add anna --email anna@example.com --group approver   # list, remove

Every command takes the stack the same way: --stack NAME, else $STORMWATCH_STACK, else
the account and region's only stormwatch stack (`ack` also takes --table or
$STORMWATCH_TABLE, `console user` --pool). The Act commands
(statement, pause, resume, status) go through the stack's Act API, signed with your AWS
credentials (the API's IAM authorizer tells the function who you are; `act.people` in
the config says what you may do); they find its URL from the stack's ActApiUrl output
(--stack NAME, $STORMWATCH_STACK, or the account's only stormwatch stack), or use
--api-url / $STORMWATCH_API_URL (a custom domain; `make local` prints the local stack's).
They never write the table themselves. A refusal (unknown statement, missing variable, approval by
the author, stale hash, expired approval, crisis mode already on) is one line on stderr
and exit code 2.

Credentials files never belong in the repository: keep them where your other secrets live
and delete local copies after pushing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from stormwatch.errors import ConfigError

if TYPE_CHECKING:
    from ops.transport import Transport

STANDARD_TIER_BYTES = 4096


def _read_config(path: Path) -> dict[str, Any]:
    from ops.config_file import read_document
    from stormwatch.config import parse_config

    document = read_document(path)
    if not isinstance(document, dict):
        raise ConfigError("<document>", f"{path} must hold a mapping")
    parse_config(document)
    return document


def config_check(args: argparse.Namespace) -> int:
    from stormwatch.config import parse_config

    config = parse_config(_read_config(args.file))
    print(
        f"{args.file}: valid - {len(config.brands)} brands, "
        f"channels {', '.join(config.enabled_channels)}"
    )
    return 0


def config_schema_print(_args: argparse.Namespace) -> int:
    """The document's JSON Schema; `config/schema.json` is this output, committed."""
    from stormwatch.config import config_schema

    print(json.dumps(config_schema(), indent=2, ensure_ascii=False))
    return 0


def config_push(args: argparse.Namespace) -> int:
    import boto3

    document = _read_config(args.file)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    tier: Literal["Advanced", "Standard"] = (
        "Advanced" if len(text.encode()) > STANDARD_TIER_BYTES else "Standard"
    )
    key = args.key or config_key(args.name)
    # A SecureString under the stack's key: the document holds the roster's phone numbers.
    boto3.client("ssm").put_parameter(
        Name=args.name, Value=text, Type="SecureString", KeyId=key, Tier=tier, Overwrite=True
    )
    print(
        f"pushed {args.file} to {args.name} ({tier} tier, encrypted with {key}); "
        "functions pick it up within a minute"
    )
    return 0


def config_key(parameter_name: str) -> str:
    """The stack's KMS key for a parameter named as the template wants it
    (/stormwatch/<stage>/...): template.yaml's KeyAlias."""
    parts = parameter_name.split("/")
    if len(parts) < 4 or parts[0] or parts[1] != "stormwatch" or not parts[2]:
        raise ConfigError("--name", "must be /stormwatch/<stage>/..., or name the key with --key")
    return f"alias/stormwatch-{parts[2]}"


def credentials_push(args: argparse.Namespace) -> int:
    import boto3

    from ops.credentials import CredentialsError, push

    try:
        stored = push(
            boto3.client("secretsmanager"),
            args.secret,
            args.file,
            replace=args.replace,
            confirm=args.confirm,
            say=print,
        )
    except CredentialsError as error:
        print(f"credentials not pushed: {error}", file=sys.stderr)
        return 2
    return 0 if stored else 2


def _ask(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


TABLE_ENV = "STORMWATCH_TABLE"
# template.yaml names the table stormwatch-<Stage>, its idempotency table ...-idempotency.
STACK_TABLE = re.compile(r"^stormwatch-(dev|staging|prod)$")


def find_table(
    explicit: str | None,
    environ: Mapping[str, str],
    list_tables: Callable[[], Iterable[str]],
    *,
    stack: str | None = None,
    stack_outputs: Callable[[str], Mapping[str, str]] | None = None,
) -> str:
    """The table to act on: --table, else $STORMWATCH_TABLE, else the TableName output of
    --stack or $STORMWATCH_STACK (the selector every other command takes), else the
    account's only stack.

    The command in an alert SMS carries no table name (it must fit one segment), so with
    one stack in the account and region it works as received.
    """
    from ops.transport import STACK_ENV

    if explicit:
        return explicit
    if environ.get(TABLE_ENV):
        return environ[TABLE_ENV]
    stack = stack or environ.get(STACK_ENV) or None
    if stack and stack_outputs is not None:
        return _output(stack_outputs, stack, "TableName")
    stacks = sorted(name for name in list_tables() if STACK_TABLE.match(name))
    if len(stacks) == 1:
        return stacks[0]
    if not stacks:
        raise ValueError(
            "no stormwatch table in this account and region: pass --table "
            f"(the stack's TableName output) or set {TABLE_ENV}"
        )
    raise ValueError(
        f"several stormwatch stacks here ({', '.join(stacks)}): pass --stack or --table, "
        f"or set {TABLE_ENV}"
    )


def _output(stack_outputs: Callable[[str], Mapping[str, str]], stack: str, key: str) -> str:
    from ops.transport import stack_output

    try:
        return stack_output(stack_outputs, stack, key)
    except LookupError as error:
        raise ValueError(str(error)) from None


def named_stack_outputs(stack: str) -> Mapping[str, str]:
    """The outputs of the stormwatch stack named `stack`."""
    from botocore.exceptions import ClientError

    from ops.transport import describe_stacks, find_stack_outputs

    try:
        return find_stack_outputs(stack, {}, describe_stacks)
    except ClientError as error:  # CloudFormation says "Stack with id ... does not exist"
        raise LookupError(error.response.get("Error", {}).get("Message", str(error))) from None


def _table_names() -> Iterator[str]:
    import boto3

    for page in boto3.client("dynamodb").get_paginator("list_tables").paginate():
        yield from page["TableNames"]


def acknowledge(table: str, alert_id: str, by: str, at: datetime) -> str:
    """Acknowledge the brand's open alert; returns what happened, raises if it cannot."""
    import boto3

    from stormwatch.persistence.table import Table
    from stormwatch.persistence.warn_state import WarnStateStore
    from stormwatch.warn import acknowledgement

    store = WarnStateStore(Table(boto3.client("dynamodb"), table))
    return acknowledgement.acknowledge(store, alert_id, by, at)


def caller_arn() -> str:
    """Who runs this command, as AWS verified it (not a name anyone could type)."""
    import boto3

    return str(boto3.client("sts").get_caller_identity()["Arn"])


TYPED_NAME_LENGTH = 40


def acknowledger(arn: str, typed_name: str | None) -> str:
    """Who acknowledged, as alert messages show it: the verified identity first (an IAM
    user's name; an assumed role's role and session, since whoever may assume the role
    picks the session name), then what `--name` said, cleaned of control characters and
    line breaks and cut short, so it cannot pose as the identity or as a new line."""
    resource = arn.split(":", 5)[-1]
    if resource.startswith("assumed-role/"):
        identity = resource.removeprefix("assumed-role/")
    else:
        identity = resource.rsplit("/", 1)[-1]
    if not typed_name:
        return identity
    printable = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in typed_name)
    cleaned = " ".join(printable.split())
    if not cleaned:
        return identity
    if len(cleaned) > TYPED_NAME_LENGTH:
        cleaned = cleaned[:TYPED_NAME_LENGTH] + "..."
    return f"{identity} (says: {cleaned})"


def ack(args: argparse.Namespace) -> int:
    from stormwatch.warn.lifecycle import NotAcknowledgeable

    try:
        table = find_table(
            args.table,
            os.environ,
            _table_names,
            stack=args.stack,
            stack_outputs=named_stack_outputs,
        )
        by = acknowledger(caller_arn(), args.name)
        print(acknowledge(table, args.alert_id, by, datetime.now(UTC)))
    except (ValueError, NotAcknowledgeable) as error:
        print(f"cannot acknowledge: {error}", file=sys.stderr)
        return 2
    return 0


def doctor(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from ops.doctor import check_stack
    from ops.transport import describe_stacks, find_stack_outputs

    try:
        outputs = find_stack_outputs(args.stack, os.environ, describe_stacks)
        return check_stack(
            outputs,
            boto3.client("sns"),
            boto3.client("ssm"),
            boto3.client("lambda"),
            sys.stdout,
        )
    except (LookupError, BotoCoreError, ClientError) as error:
        print(f"cannot check: {error}", file=sys.stderr)
        return 2


def main(
    argv: list[str] | None = None,
    *,
    transport: Transport | None = None,
    confirm: Callable[[str], bool] | None = None,
    out: TextIO | None = None,
) -> int:
    """The `stormwatch` command. `transport` reaches the Act function some other way than
    the deployed stack's API (the local stack: `ops.transport.LocalTransport`); `confirm`
    answers the release's question; `out` receives what the Act commands print."""
    parser = argparse.ArgumentParser(
        prog="stormwatch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("config", help="the configuration document").add_subparsers(
        dest="action", required=True
    )
    check = config.add_parser("check", help="validate a YAML/JSON config document")
    check.add_argument("file", type=Path)
    check.set_defaults(run=config_check)
    schema = config.add_parser(
        "schema", help="print the document's JSON Schema (editors check a file with it)"
    )
    schema.set_defaults(run=config_schema_print)
    push = config.add_parser("push", help="validate, then store in SSM Parameter Store")
    push.add_argument("file", type=Path)
    push.add_argument("--name", required=True, help="the stack's ConfigParameterName")
    push.add_argument(
        "--key", help="KMS key to encrypt it with (default: the stack's, alias/stormwatch-<stage>)"
    )
    push.set_defaults(run=config_push)
    credentials = commands.add_parser("credentials", help="channel credentials").add_subparsers(
        dest="action", required=True
    )
    store = credentials.add_parser("push", help="store a JSON file in the stage's secret")
    store.add_argument("file", type=Path)
    store.add_argument("--secret", required=True, help="the stack's ChannelSecretName")
    store.add_argument(
        "--replace",
        action="store_true",
        help="make the secret exactly the file (asks first, naming the channels that go); "
        "by default the file's channels are merged in and the others kept",
    )
    store.set_defaults(run=credentials_push)
    acknowledgement = commands.add_parser("ack", help="acknowledge an alert: stop its escalation")
    acknowledgement.add_argument("alert_id", help="as in the email or SMS")
    acknowledgement.add_argument(
        "--table",
        help=f"the stack's TableName output (default: ${TABLE_ENV}, else the stack's)",
    )
    acknowledgement.add_argument(
        "--stack",
        help="the CloudFormation stack whose table it is "
        "(default: $STORMWATCH_STACK, or the account's only one)",
    )
    acknowledgement.add_argument(
        "--name", help="a display name, shown after your verified AWS identity (cut to 40)"
    )
    acknowledgement.set_defaults(run=ack)
    checkup = commands.add_parser(
        "doctor",
        help="will a page reach its person? SMS sandbox, spend limit, verified phones, "
        "confirmed email subscriptions",
    )
    checkup.add_argument(
        "--stack", help="the CloudFormation stack (default: $STORMWATCH_STACK, or the only one)"
    )
    checkup.set_defaults(run=doctor)
    from ops.act_commands import add_commands
    from ops.act_commands import run as run_act

    add_commands(commands)
    from ops import console_users

    console_users.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command in ("statement", "pause", "resume", "status", "report"):
        return run_act(args, transport, confirm, out)
    args.confirm = confirm or _ask
    if args.command == "console":
        return console_users.run(args, out=out)
    try:
        return int(args.run(args))
    except ConfigError as error:
        print(f"invalid configuration: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
