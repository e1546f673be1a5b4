"""`stormwatch console user add|list|remove`: the console's people in the stack's pool.

    stormwatch console user add anna --email anna@example.com --group approver
    stormwatch console user list
    stormwatch console user remove anna

Cognito mails a new user a temporary password (valid a day); the first sign-in sets her
own. The groups decide what the pages offer; what she may do is `act.people`'s, which
lists her as `cognito:<username>`: the command says so when the config does not.
The pool is the one --pool names, else the ConsoleUserPoolId output of --stack or
$STORMWATCH_STACK, else the account's only stormwatch console pool
(`stormwatch-<stage>-console`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

GROUPS = ("viewer", "approver", "publisher")
POOL_NAME = re.compile(r"^stormwatch-[A-Za-z0-9-]+-console$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class ConsoleUserError(Exception):
    """A one-line refusal."""


def add_commands(commands: Any) -> None:
    console = commands.add_parser("console", help="the console's users").add_subparsers(
        dest="action", required=True
    )
    users = console.add_parser("user", help="people who sign in to the console").add_subparsers(
        dest="user_action", required=True
    )
    add = users.add_parser("add", help="create a user (Cognito mails a temporary password)")
    add.add_argument("username", help="lower case; act.people names her cognito:<username>")
    add.add_argument("--email", required=True)
    add.add_argument(
        "--group",
        action="append",
        choices=GROUPS,
        help="what the pages offer (repeat for several; default viewer)",
    )
    listing = users.add_parser("list", help="the users, their state and groups")
    remove = users.add_parser("remove", help="delete a user (her session ends within the hour)")
    remove.add_argument("username")
    for command in (add, listing, remove):
        command.add_argument(
            "--pool", help="the stack's ConsoleUserPoolId (default: the stack's, or the only one)"
        )
        command.add_argument(
            "--stack", help="the CloudFormation stack (default: $STORMWATCH_STACK, or the only one)"
        )


def run(
    args: argparse.Namespace,
    cognito: Any = None,
    out: TextIO | None = None,
    stack_outputs: Callable[[str], Mapping[str, str]] | None = None,
) -> int:
    out = out or sys.stdout
    if stack_outputs is None:
        from ops.cli import named_stack_outputs

        stack_outputs = named_stack_outputs
    if cognito is None:
        import boto3

        cognito = boto3.client("cognito-idp")
    try:
        pool = args.pool or find_pool(cognito, stack=args.stack, stack_outputs=stack_outputs)
        if args.user_action == "add":
            groups = list(dict.fromkeys(args.group or ["viewer"]))
            add_user(cognito, pool, args.username, args.email, groups)
            print(
                f"created {args.username} in {', '.join(groups)}; Cognito mails the temporary "
                f"password to {args.email}. Give her roles in act.people as "
                f"cognito:{args.username}.",
                file=out,
            )
        elif args.user_action == "list":
            for line in list_users(cognito, pool):
                print(line, file=out)
        else:
            cognito.admin_user_global_sign_out(UserPoolId=pool, Username=args.username)
            cognito.admin_delete_user(UserPoolId=pool, Username=args.username)
            print(f"removed {args.username}; her ID token lasts at most an hour", file=out)
    except ConsoleUserError as error:
        print(f"console user: {error}", file=sys.stderr)
        return 2
    except cognito.exceptions.UserNotFoundException:
        print(f"console user: there is no user {args.username!r}", file=sys.stderr)
        return 2
    return 0


def find_pool(
    cognito: Any,
    *,
    stack: str | None = None,
    stack_outputs: Callable[[str], Mapping[str, str]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The pool of --stack or $STORMWATCH_STACK (its ConsoleUserPoolId output), else the
    account's only stormwatch console pool."""
    from ops.transport import STACK_ENV, stack_output

    stack = stack or (os.environ if environ is None else environ).get(STACK_ENV) or None
    if stack and stack_outputs is not None:
        try:
            return stack_output(stack_outputs, stack, "ConsoleUserPoolId")
        except LookupError as error:
            raise ConsoleUserError(str(error)) from None
    pools = [
        pool
        for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
        for pool in page["UserPools"]
        if POOL_NAME.match(str(pool.get("Name", "")))
    ]
    if not pools:
        raise ConsoleUserError("no stormwatch console pool in this account and region")
    if len(pools) > 1:
        names = ", ".join(sorted(f"{p['Name']} ({p['Id']})" for p in pools))
        raise ConsoleUserError(f"several console pools ({names}): pass --stack or --pool")
    return str(pools[0]["Id"])


def add_user(cognito: Any, pool: str, username: str, email: str, groups: Iterable[str]) -> None:
    if not USERNAME.match(username):
        raise ConsoleUserError(
            f"{username[:80]!r} is no username: lower-case letters, digits, . _ - (64 at most)"
        )
    if not EMAIL.match(email):
        raise ConsoleUserError(f"{email[:80]!r} is no email address")
    try:
        cognito.admin_create_user(
            UserPoolId=pool,
            Username=username,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
            DesiredDeliveryMediums=["EMAIL"],
        )
    except cognito.exceptions.UsernameExistsException:
        raise ConsoleUserError(f"{username} exists already") from None
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)


def list_users(cognito: Any, pool: str) -> list[str]:
    members: dict[str, list[str]] = {}
    for group in GROUPS:
        for page in cognito.get_paginator("list_users_in_group").paginate(
            UserPoolId=pool, GroupName=group
        ):
            for user in page["Users"]:
                members.setdefault(user["Username"], []).append(group)
    lines = []
    for page in cognito.get_paginator("list_users").paginate(UserPoolId=pool):
        for user in page["Users"]:
            name = user["Username"]
            email = _attribute(user.get("Attributes", []), "email")
            groups = ", ".join(members.get(name, [])) or "no group"
            state = user.get("UserStatus", "?") if user.get("Enabled", True) else "DISABLED"
            lines.append(f"{name:<16} {email:<32} {state:<22} {groups}")
    return sorted(lines) or ["no users yet: stormwatch console user add NAME --email ..."]


def _attribute(attributes: Iterable[Mapping[str, str]], name: str) -> str:
    return next((a["Value"] for a in attributes if a["Name"] == name), "")
