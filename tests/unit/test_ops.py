"""Which table `stormwatch ack` acts on when the SMS's command names none."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from local.localconfig import EXAMPLE_CONFIG
from ops.cli import TABLE_ENV, acknowledger, find_table, main
from ops.transport import STACK_ENV

ACCOUNT = ["stormwatch-prod", "stormwatch-prod-idempotency", "billing", "stormwatch-old-backup"]


def test_the_accounts_only_stack_is_found() -> None:
    # Given an account with one stormwatch stack beside other tables
    # When ack runs without --table / Then it acts on that stack's table
    assert find_table(None, {}, lambda: ACCOUNT) == "stormwatch-prod"


def test_an_explicit_table_wins_over_the_environment_and_the_environment_over_discovery() -> None:
    environ = {TABLE_ENV: "stormwatch-staging"}
    assert find_table("stormwatch-dev", environ, lambda: ACCOUNT) == "stormwatch-dev"
    assert find_table(None, environ, lambda: ACCOUNT) == "stormwatch-staging"


def test_discovery_is_not_asked_when_the_table_is_named() -> None:
    def unreachable() -> list[str]:
        raise AssertionError("listed tables although one was named")

    assert find_table(None, {TABLE_ENV: "stormwatch-dev"}, unreachable) == "stormwatch-dev"


def test_the_stack_selector_every_command_takes_names_the_table() -> None:
    # Given two stacks in the account, and the operator naming one as for doctor or status
    outputs = {"stormwatch-eu": {"TableName": "stormwatch-prod"}}

    def unreachable() -> list[str]:
        raise AssertionError("listed tables although the stack was named")

    # When ack runs with --stack, or with $STORMWATCH_STACK set
    # Then the table is that stack's TableName output
    by_flag = find_table(
        None, {}, unreachable, stack="stormwatch-eu", stack_outputs=outputs.__getitem__
    )
    by_env = find_table(
        None, {STACK_ENV: "stormwatch-eu"}, unreachable, stack_outputs=outputs.__getitem__
    )
    assert by_flag == by_env == "stormwatch-prod"
    # ...and --table or $STORMWATCH_TABLE still win over it
    assert (
        find_table(
            None, {TABLE_ENV: "t"}, unreachable, stack="x", stack_outputs=outputs.__getitem__
        )
        == "t"
    )


def test_a_stack_that_is_not_there_is_a_clear_error() -> None:
    def missing(stack: str) -> dict[str, str]:
        raise LookupError(f"Stack with id {stack} does not exist")

    with pytest.raises(ValueError, match="Stack with id nope does not exist"):
        find_table(None, {}, lambda: ACCOUNT, stack="nope", stack_outputs=missing)
    with pytest.raises(ValueError, match="stack 'other' has no TableName output"):
        find_table(None, {}, lambda: ACCOUNT, stack="other", stack_outputs=lambda _: {})


def test_the_console_pool_is_the_named_stacks() -> None:
    # Given a stack named by $STORMWATCH_STACK, and a Cognito that must not be searched
    from ops.console_users import ConsoleUserError, find_pool

    class Unsearched:
        def get_paginator(self, name: str) -> None:
            raise AssertionError("searched the pools although the stack was named")

    outputs = {"stormwatch-eu": {"ConsoleUserPoolId": "eu-central-1_abc"}}
    # When a console user command runs / Then it uses that stack's pool output
    pool = find_pool(
        Unsearched(), environ={STACK_ENV: "stormwatch-eu"}, stack_outputs=outputs.__getitem__
    )
    assert pool == "eu-central-1_abc"
    with pytest.raises(ConsoleUserError, match="has no ConsoleUserPoolId output"):
        find_pool(Unsearched(), stack="stormwatch-eu", stack_outputs=lambda _: {}, environ={})


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (["billing", "stormwatch-prod-idempotency"], "no stormwatch table in this account"),
        (
            ["stormwatch-dev", "stormwatch-prod", "stormwatch-prod-idempotency"],
            "several stormwatch stacks here (stormwatch-dev, stormwatch-prod)",
        ),
    ],
)
def test_no_stack_or_several_is_a_clear_error(tables: list[str], message: str) -> None:
    # Given an account with no stack, or with two
    # When ack runs without --table / Then it says what to pass, and guesses nothing
    with pytest.raises(ValueError, match=r"pass --(table|stack)") as error:
        find_table(None, {}, lambda: tables)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("arn", "name", "recorded"),
    [
        # An IAM user: the user name
        ("arn:aws:iam::123456789012:user/anna", None, "anna"),
        # An assumed role: the role and the session, never the session name alone (anyone
        # who may assume the role picks the session name)
        (
            "arn:aws:sts::123456789012:assumed-role/OnCall/anna@nordwind.example",
            None,
            "OnCall/anna@nordwind.example",
        ),
        # --name comes after the verified identity, cleaned and short
        ("arn:aws:iam::123456789012:user/anna", "Anna Berg", "anna (says: Anna Berg)"),
        (
            "arn:aws:iam::123456789012:user/anna",
            "CEO\r\n[CRITICAL] all clear\x07" + "x" * 100,
            "anna (says: CEO [CRITICAL] all clear " + "x" * 15 + "...)",
        ),
        ("arn:aws:iam::123456789012:user/anna", " \t\n", "anna"),
    ],
)
def test_an_acknowledgement_records_the_verified_identity_first(
    arn: str, name: str | None, recorded: str
) -> None:
    # Given the caller's ARN as STS verified it, and what they typed with --name
    # When the acknowledger is written / Then the identity leads, whatever was typed
    assert acknowledger(arn, name) == recorded


def _alias_bomb(levels: int = 9) -> str:
    """A billion laughs: nine aliases of nine aliases... of a keyword, under a list key."""
    lines = ["laughs:", '  - &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"  - &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("hostile", "problem"),
    [
        ("alias_bomb", "expands to more than"),
        ("big_integer", "a number of 5000 digits"),
        ("deep_nesting", "nested deeper than"),
    ],
)
def test_a_hostile_config_file_is_a_one_line_error_within_a_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hostile: str, problem: str
) -> None:
    # Given the example config with an alias bomb in its keywords, a 5,000-digit integer,
    # or a list nested 3,000 deep
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    if hostile == "alias_bomb":
        text = _alias_bomb() + example.replace("keywords: [", "keywords: [*l8, ", 1)
    elif hostile == "big_integer":
        text = example.replace("bucket_minutes: 5", "bucket_minutes: " + "9" * 5000)
    else:
        text = example.replace("bucket_minutes: 5", "bucket_minutes: " + "[" * 3000 + "]" * 3000)
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    # When it is checked
    started = time.perf_counter()
    status = main(["config", "check", str(path)])
    # Then it is refused in one line, within a second, without a traceback
    assert time.perf_counter() - started < 1.0
    assert status == 2
    err = capsys.readouterr().err
    assert problem in err
    assert len(err.strip().splitlines()) == 1
