"""The operator commands against the local stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from local.localconfig import EXAMPLE_CONFIG, read_document
from local.stack import LocalStack
from ops.cli import main


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
