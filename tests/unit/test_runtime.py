"""What handlers read from their surroundings: environment, clients, config and secrets.

boto3 clients answer through botocore's Stubber here: nothing leaves the process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from local.localconfig import read_document
from stormwatch.errors import ConfigError
from stormwatch.runtime import (
    AwsClients,
    Environment,
    clear_caches,
    load_channel_credentials,
    load_config,
)

PARAMETER = "/stormwatch/dev/config"
SECRET = "stormwatch/dev/channels"
SECRET_VALUE = "s3cr3t-value-never-shown"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    yield AwsClients()
    clear_caches()


def _parameter(text: str) -> dict[str, Any]:
    return {"Parameter": {"Name": PARAMETER, "Type": "String", "Value": text, "Version": 1}}


def _secret(text: str) -> dict[str, Any]:
    return {"ARN": f"arn:aws:secretsmanager:eu-central-1:1:secret:{SECRET}", "SecretString": text}


def test_clients_carry_the_projects_timeouts_and_retries(clients: AwsClients) -> None:
    config = clients.client("ssm").meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 10)
    # botocore counts the first attempt too: 4 retries are 5 attempts in all
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    # and the providers read through those very clients
    assert clients.parameters().client is clients.client("ssm")
    assert clients.secrets().client is clients.client("secretsmanager")


def test_the_local_stack_endpoint_is_taken_from_the_environment(
    clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert AwsClients().client("ssm").meta.endpoint_url == "http://127.0.0.1:4566"


def test_the_config_document_is_read_once_a_minute_and_again_after_clear_caches(
    clients: AwsClients,
) -> None:
    text = json.dumps(read_document())
    # (a SecureString: it holds the roster's phone numbers)
    expected = {"Name": PARAMETER, "WithDecryption": True}
    with Stubber(clients.client("ssm")) as ssm:
        # Given SSM answering once (a second call would fail: nothing more is queued)
        ssm.add_response("get_parameter", _parameter(text), expected)
        # When the config is loaded twice within its minute / Then SSM was asked once
        first = load_config(clients, PARAMETER)
        assert load_config(clients, PARAMETER) == first
        ssm.assert_no_pending_responses()
        # When the caches are cleared (the local stack does) / Then it is read again
        clear_caches()
        ssm.add_response("get_parameter", _parameter(text), expected)
        assert load_config(clients, PARAMETER).brands == first.brands
        ssm.assert_no_pending_responses()


def test_a_missing_parameter_says_where_the_document_should_be(clients: AwsClients) -> None:
    with Stubber(clients.client("ssm")) as ssm:
        ssm.add_client_error("get_parameter", "ParameterNotFound", "not found")
        with pytest.raises(ConfigError) as caught:
            load_config(clients, PARAMETER)
    assert caught.value.key == PARAMETER
    assert caught.value.problem == "SSM parameter not found: push the config document first"


def test_an_invalid_document_names_its_key(clients: AwsClients) -> None:
    document = read_document()
    document["channels"]["x"]["page_size"] = 1000
    with Stubber(clients.client("ssm")) as ssm:
        ssm.add_response("get_parameter", _parameter(json.dumps(document)))
        with pytest.raises(ConfigError, match=r"channels\.x\.page_size: must be between 1 and 100"):
            load_config(clients, PARAMETER)


def test_credentials_of_one_channel_come_from_the_one_secret_cached(clients: AwsClients) -> None:
    secret = {
        "x": {"bearer_token": SECRET_VALUE},
        "bluesky": {"identifier": "a", "app_password": "b"},
    }
    with Stubber(clients.client("secretsmanager")) as secrets:
        secrets.add_response("get_secret_value", _secret(json.dumps(secret)), {"SecretId": SECRET})
        assert load_channel_credentials(clients, SECRET, "x") == {"bearer_token": SECRET_VALUE}
        # a second channel within five minutes costs no second call
        assert load_channel_credentials(clients, SECRET, "bluesky")["identifier"] == "a"
        secrets.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("stored", "key", "problem"),
    [
        (f"bearer_token={SECRET_VALUE}", SECRET, "the secret is not a JSON object"),
        (json.dumps([SECRET_VALUE]), SECRET, "the secret is not a JSON object"),
        (
            json.dumps({"x": SECRET_VALUE}),
            f"{SECRET}:x",
            "no credentials object under this key in the secret",
        ),
        (json.dumps({}), f"{SECRET}:x", "no credentials object under this key in the secret"),
    ],
)
def test_a_bad_secret_is_a_clear_error_that_never_shows_the_secret(
    clients: AwsClients, stored: str, key: str, problem: str
) -> None:
    with Stubber(clients.client("secretsmanager")) as secrets:
        secrets.add_response("get_secret_value", _secret(stored))
        with pytest.raises(ConfigError) as caught:
            load_channel_credentials(clients, SECRET, "x")
    assert (caught.value.key, caught.value.problem) == (key, problem)
    assert SECRET_VALUE not in str(caught.value)
    # and no chained exception carries the parser's view of it into a log
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_credentials_need_the_secret_name(clients: AwsClients) -> None:
    with pytest.raises(ConfigError, match="environment CHANNEL_SECRET_NAME"):
        load_channel_credentials(clients, None, "x")


def test_the_environment_names_what_is_missing() -> None:
    environ = {"STAGE": "dev", "TABLE_NAME": "stormwatch-dev", "CONFIG_PARAMETER": PARAMETER}
    environment = Environment.from_environ({**environ, "CHANNEL_SECRET_NAME": ""})
    assert environment.channel_secret_name is None
    with pytest.raises(ConfigError, match="environment TABLE_NAME: required but not set"):
        Environment.from_environ({**environ, "TABLE_NAME": "  "})
    with pytest.raises(ConfigError, match="ALERTS_TOPIC_ARN/OPS_TOPIC_ARN"):
        environment.topics()


def test_a_warm_invocation_validates_the_same_document_only_once(
    clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SSM holding one document, read by two invocations within its minute
    import stormwatch.config as config_package

    calls: list[str] = []
    real = config_package.load_config_json

    def counting(text: str) -> Any:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(config_package, "load_config_json", counting)
    with Stubber(clients.client("ssm")) as ssm:
        ssm.add_response("get_parameter", _parameter(json.dumps(read_document())))
        first = load_config(clients, PARAMETER)
        # Then the second is handed the same Config, not validated again
        assert load_config(clients, PARAMETER) is first
    assert len(calls) == 1


def test_a_roster_gap_ahead_is_refused_when_pushed_but_never_stops_the_functions(
    clients: AwsClients,
) -> None:
    # Given a document whose night rotation ends in two weeks, with nobody after it
    from datetime import UTC, datetime, timedelta

    from stormwatch.config import parse_config

    document = read_document()
    soon = (datetime.now(UTC) + timedelta(days=14)).date()
    ends = soon + timedelta(days=-soon.weekday())  # a Monday, its handover day
    document["roster"]["rotations"][0]["end_date"] = ends.isoformat()
    # Then `stormwatch config check` refuses it, naming the gap
    with pytest.raises(ConfigError, match="nobody is on call"):
        parse_config(document)
    # But when SSM holds it anyway (pushed earlier, or edited by hand), the functions read it
    with Stubber(clients.client("ssm")) as ssm:
        ssm.add_response("get_parameter", _parameter(json.dumps(document)))
        config = load_config(clients, PARAMETER)
    # and in the gap the escalation contacts are paged rather than nobody
    assert config.roster is not None
    night = datetime.combine(ends + timedelta(days=10), datetime.min.time(), UTC)
    on_call = config.roster.on_call(night.replace(hour=2))
    assert on_call.source == "fallback"
    assert [contact.id for contact in on_call.contacts] == ["dieter"]
