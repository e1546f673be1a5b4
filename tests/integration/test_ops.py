"""The operator commands against the local stack."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from local.localconfig import EXAMPLE_CONFIG, read_document
from local.stack import LocalStack
from ops.cli import main
from ops.doctor import check_stack


def test_a_valid_document_is_pushed_and_read_by_the_functions(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the example config with one change
    document = read_document()
    document["bucket_minutes"] = 15
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    # When it is pushed to the stack's parameter
    name = stack.config_parameter()
    assert main(["config", "push", str(path), "--name", name]) == 0
    # Then SSM holds it as JSON
    stored = json.loads(stack.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
    assert stored["bucket_minutes"] == 15
    assert "pushed" in capsys.readouterr().out


def test_an_invalid_document_is_refused_before_it_reaches_ssm(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stack.client("ssm").get_parameter(Name=stack.config_parameter())["Parameter"]
    path = tmp_path / "bad.yaml"
    path.write_text(EXAMPLE_CONFIG.read_text().replace("bucket_minutes: 5", "bucket_minutes: 7"))
    assert main(["config", "push", str(path), "--name", stack.config_parameter()]) == 2
    assert "config bucket_minutes: must divide 60" in capsys.readouterr().err
    after = stack.client("ssm").get_parameter(Name=stack.config_parameter())["Parameter"]
    assert after["Version"] == before["Version"]


def test_the_example_checks_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(EXAMPLE_CONFIG)]) == 0
    assert "2 brands" in capsys.readouterr().out


def test_credentials_are_stored_and_never_printed(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"x": {"bearer_token": "s3cr3t-value"}}))
    secret = stack.outputs["ChannelSecretName"]
    assert main(["credentials", "push", str(path), "--secret", secret]) == 0
    printed = capsys.readouterr().out
    assert "s3cr3t-value" not in printed
    assert "x" in printed
    stored = stack.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
    assert json.loads(stored) == {"x": {"bearer_token": "s3cr3t-value"}}


def test_ack_as_the_sms_gives_it_finds_the_stacks_table(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local stack and no table named anywhere
    monkeypatch.delenv("STORMWATCH_TABLE", raising=False)
    # When someone acknowledges an alert exactly as the SMS says
    status = main(["ack", "nordwind-air-20261122-0305"])
    # Then the command reads the stack's table, which has no such open alert
    assert status == 2
    assert "nordwind-air-20261122-0305 is not open for nordwind-air" in capsys.readouterr().err


def test_console_users_are_made_listed_and_removed_in_the_stacks_pool(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the stack's console pool, found by its name
    # When an operator adds an approver and a viewer
    assert (
        main(
            ["console", "user", "add", "anna", "--email", "anna@example.com", "--group", "approver"]
        )
        == 0
    )
    assert "cognito:anna" in capsys.readouterr().out
    assert main(["console", "user", "add", "vera", "--email", "vera@example.com"]) == 0
    # Then both are in the pool, in their groups, waiting for their first sign-in
    assert main(["console", "user", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert any(line.split()[0] == "anna" and line.endswith("approver") for line in listed)
    assert any(line.split()[0] == "vera" and line.endswith("viewer") for line in listed)
    assert all(
        "FORCE_CHANGE_PASSWORD" in line for line in listed if line.split()[0] in ("anna", "vera")
    )
    # ...a second anna, a bad name or a bad address is one line and changes nothing
    assert main(["console", "user", "add", "anna", "--email", "a@example.com"]) == 2
    assert main(["console", "user", "add", "Anna Berg", "--email", "a@example.com"]) == 2
    assert main(["console", "user", "add", "bert", "--email", "not-an-address"]) == 2
    refusals = capsys.readouterr().err.splitlines()
    assert refusals == [
        "console user: anna exists already",
        "console user: 'Anna Berg' is no username: lower-case letters, digits, . _ - (64 at most)",
        "console user: 'not-an-address' is no email address",
    ]
    # When one is removed, then she is gone, and removing her again says so
    assert main(["console", "user", "remove", "vera"]) == 0
    assert main(["console", "user", "remove", "vera"]) == 2
    assert "there is no user 'vera'" in capsys.readouterr().err
    pool = stack.outputs["ConsoleUserPoolId"]
    names = {
        u["Username"] for u in stack.client("cognito-idp").list_users(UserPoolId=pool)["Users"]
    }
    assert "vera" not in names
    assert "anna" in names


def test_doctor_checks_the_template_made_topics_and_the_spend_limit_on_moto(
    stack: LocalStack,
) -> None:
    # Given the stack's topics and subscriptions as the template makes them, the example
    # roster, and the account's SMS spend limit at AWS's default of USD 1
    sns = stack.client("sns")
    sns.set_sms_attributes(attributes={"MonthlySpendLimit": "1"})
    out = io.StringIO()
    # When the doctor checks the stack
    code = check_stack(stack.outputs, sns, stack.client("ssm"), out)
    # Then it says the spend limit loses pages, and what to do; the email subscriptions
    # of both topics are there (moto confirms them at once)
    lines = out.getvalue().splitlines()
    assert code == 1
    assert any(line.startswith("FAIL  SMS spend limit: USD 1 a month:") for line in lines)
    assert any(line.startswith("OK    alerts topic email ") for line in lines)
    assert any(line.startswith("OK    ops topic email ") for line in lines)
    # moto has no SMS sandbox API: that check says it could not be made
    assert any(line.startswith("FAIL  SMS sandbox: could not check") for line in lines)

    # When the limit is raised for a storm night / Then that check is OK
    sns.set_sms_attributes(attributes={"MonthlySpendLimit": "50"})
    out = io.StringIO()
    check_stack(stack.outputs, sns, stack.client("ssm"), out)
    assert "OK    SMS spend limit: USD 50 a month" in out.getvalue().splitlines()
