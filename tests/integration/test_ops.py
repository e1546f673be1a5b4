"""The operator commands against the local stack."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

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
    # Then SSM holds it as JSON, encrypted with the stack's key (it holds phone numbers)
    ssm = stack.client("ssm")
    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert json.loads(parameter["Value"])["bucket_minutes"] == 15
    (described,) = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
        "Parameters"
    ]
    assert described["KeyId"] == "alias/stormwatch-dev"
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
    assert json.loads(stored)["x"] == {"bearer_token": "s3cr3t-value"}


def _stored(stack: LocalStack, secret: str) -> dict[str, Any]:
    text = stack.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
    document: dict[str, Any] = json.loads(text)
    return document


def test_credentials_pushed_for_two_channels_keep_the_others(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a secret holding eight channels' credentials
    secret = stack.outputs["ChannelSecretName"]
    channels = ["x", "mastodon", "bluesky", "facebook", "instagram", "linkedin", "reddit", "rss"]
    everything = {name: {"access_token": f"old-{name}"} for name in channels}
    stack.client("secretsmanager").put_secret_value(
        SecretId=secret, SecretString=json.dumps(everything)
    )
    # When a file with two of them is pushed
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"x": {"bearer_token": "new-x"}, "rss": {"token": "new-rss"}}))
    assert main(["credentials", "push", str(path), "--secret", secret]) == 0
    # Then those two are replaced, and the six others are still there
    stored = _stored(stack, secret)
    assert stored == {**everything, "x": {"bearer_token": "new-x"}, "rss": {"token": "new-rss"}}
    printed = capsys.readouterr().out
    assert "updated bluesky" not in printed
    assert "kept 6" in printed
    assert "new-x" not in printed


def test_replace_shows_what_goes_and_asks_first(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a secret with three channels
    secret = stack.outputs["ChannelSecretName"]
    three = {name: {"access_token": f"old-{name}"} for name in ("x", "reddit", "rss")}
    stack.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(three))
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"x": {"bearer_token": "new-x"}}))
    asked: list[str] = []

    def answer_no(question: str) -> bool:
        asked.append(question)
        return False

    # When it is replaced by a file with one, and the question is answered no
    refused = main(
        ["credentials", "push", str(path), "--secret", secret, "--replace"],
        confirm=answer_no,
    )
    # Then the question named what would go, and nothing changed
    assert refused == 2
    assert "reddit, rss" in asked[0]
    assert _stored(stack, secret) == three
    # When it is answered yes / Then only the file's channel remains
    assert (
        main(
            ["credentials", "push", str(path), "--secret", secret, "--replace"],
            confirm=lambda question: True,
        )
        == 0
    )
    assert _stored(stack, secret) == {"x": {"bearer_token": "new-x"}}
    capsys.readouterr()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"x": {"bearer_token": 12345}}', "x.bearer_token: must be a text, got a number"),
        ('{"x": {"bearer_token": ""}}', "x.bearer_token: must not be empty"),
        (
            '{"x": {"bearer_token": {"nested": "v"}}}',
            "x.bearer_token: must be a text, got an object",
        ),
        ('{"x": "token-as-text"}', "x: must be an object of credential fields"),
        ('{"x": {"bearer_token": "abc",}', "not valid JSON (line 1, column"),
        ("[1, 2]", "must be a JSON object keyed by secret_key"),
    ],
)
def test_bad_credentials_are_one_line_errors_and_store_nothing(
    stack: LocalStack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    # Given a secret and a credentials file with a slip
    secret = stack.outputs["ChannelSecretName"]
    before = _stored(stack, secret)
    path = tmp_path / "bad.json"
    path.write_text(content)
    # When it is pushed / Then one line names the field (never a value), nothing is stored
    assert main(["credentials", "push", str(path), "--secret", secret]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "12345" not in captured.err
    assert "abc" not in captured.err
    assert _stored(stack, secret) == before


def test_ack_as_the_sms_gives_it_finds_the_stacks_table(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local stack and no table named anywhere
    monkeypatch.delenv("STORMWATCH_TABLE", raising=False)
    monkeypatch.delenv("STORMWATCH_STACK", raising=False)
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
    code = check_stack(stack.outputs, sns, stack.client("ssm"), stack.client("lambda"), out)
    # Then it says the spend limit loses pages, and what to do; the email subscriptions
    # of both topics are there (moto confirms them at once)
    lines = out.getvalue().splitlines()
    assert code == 1
    assert any(line.startswith("FAIL  SMS spend limit: USD 1 a month:") for line in lines)
    assert any(line.startswith("OK    alerts topic email ") for line in lines)
    assert any(line.startswith("OK    ops topic email ") for line in lines)
    # moto has no SMS sandbox API: that check says it could not be made
    assert any(line.startswith("FAIL  SMS sandbox: could not check") for line in lines)
    # ...and no event source mapping (the local stack's stream delivery stands in for it,
    # local.streams): the counting check finds none and says what to do
    assert any(
        line.startswith("FAIL  counting of stored mentions: no event source mapping invokes")
        for line in lines
    )

    # When the limit is raised for a storm night / Then that check is OK
    sns.set_sms_attributes(attributes={"MonthlySpendLimit": "50"})
    out = io.StringIO()
    check_stack(stack.outputs, sns, stack.client("ssm"), stack.client("lambda"), out)
    assert "OK    SMS spend limit: USD 50 a month" in out.getvalue().splitlines()
