"""What a handler needs from its surroundings: environment, AWS clients, the config document
and credentials, cached by Powertools' parameters utility. Clients are created on first use,
never at import (cold starts), with the project's timeouts and retries."""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stormwatch.errors import ConfigError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
    from botocore.config import Config as BotocoreConfig

    from stormwatch.config import Config

CONFIG_MAX_AGE_SECONDS = 60
"""A pushed config document reaches every function within a minute."""
SECRET_MAX_AGE_SECONDS = 300
"""Rotated credentials are read within five minutes."""


def required_variable(environ: Mapping[str, str], name: str) -> str:
    """A variable the template always sets: missing or blank is a deployment error."""
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment {name}", "required but not set")
    return value


@dataclass(frozen=True, slots=True)
class Environment:
    """The function's environment variables, validated when the handler starts."""

    stage: str
    table_name: str
    config_parameter: str
    channel_secret_name: str | None = None
    alerts_topic_arn: str | None = None
    ops_topic_arn: str | None = None
    report_function_arn: str | None = None
    """The evaluator's: the function that makes crisis reports (the Act function)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Environment:
        values = os.environ if environ is None else environ

        def required(name: str) -> str:
            return required_variable(values, name)

        return cls(
            stage=required("STAGE"),
            table_name=required("TABLE_NAME"),
            config_parameter=required("CONFIG_PARAMETER"),
            channel_secret_name=values.get("CHANNEL_SECRET_NAME") or None,
            alerts_topic_arn=values.get("ALERTS_TOPIC_ARN") or None,
            ops_topic_arn=values.get("OPS_TOPIC_ARN") or None,
            report_function_arn=values.get("REPORT_FUNCTION_ARN") or None,
        )

    def topics(self) -> tuple[str, str]:
        """The alerts and ops topics, which a function that notifies must have."""
        if not self.alerts_topic_arn or not self.ops_topic_arn:
            raise ConfigError(
                "environment ALERTS_TOPIC_ARN/OPS_TOPIC_ARN", "required to send notifications"
            )
        return self.alerts_topic_arn, self.ops_topic_arn


class AwsClients:
    """boto3 clients made on first use and kept for warm invocations, and the Powertools
    parameter providers that read through them (each with its own cache).

    The endpoint comes from the standard `AWS_ENDPOINT_URL` variable when set (the local
    stack sets it), so there is no local/AWS switch in this code.
    """

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}
        self._parameters: SSMProvider | None = None
        self._secrets: SecretsProvider | None = None
        _LIVE_CLIENTS.add(self)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(  # type: ignore[call-overload]
                service, config=_botocore_config()
            )
        return self._clients[service]

    def parameters(self) -> SSMProvider:
        """Powertools' SSM Parameter Store provider on this SSM client."""
        if self._parameters is None:
            from aws_lambda_powertools.utilities.parameters import SSMProvider

            self._parameters = SSMProvider(boto3_client=self.client("ssm"))
        return self._parameters

    def secrets(self) -> SecretsProvider:
        """Powertools' Secrets Manager provider on this Secrets Manager client."""
        if self._secrets is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._secrets = SecretsProvider(boto3_client=self.client("secretsmanager"))
        return self._secrets

    def clear_caches(self) -> None:
        for provider in (self._parameters, self._secrets):
            if provider is not None:
                provider.clear_cache()  # type: ignore[no-untyped-call]


# Every AwsClients of this process, so that `clear_caches` reaches each provider's cache
# (the local stack runs both handlers, each with its own clients, in one process).
_LIVE_CLIENTS: weakref.WeakSet[AwsClients] = weakref.WeakSet()


# The config last made from each parameter's text (a Config is immutable).
_parsed_config: dict[str, tuple[str, Config]] = {}


def _botocore_config() -> BotocoreConfig:
    from botocore.config import Config as BotocoreConfig

    return BotocoreConfig(
        connect_timeout=3,
        read_timeout=10,
        retries={"mode": "standard", "max_attempts": 4},
    )


def load_config(clients: AwsClients, parameter_name: str) -> Config:
    """The validated config document from SSM; a change is picked up within a minute.

    The text is cached by Powertools; the `Config` made from it is kept as long as the
    text is the same, so a warm invocation validates nothing again. The config's model
    (pydantic) is imported here, on the first invocation, like boto3: importing a handler
    stays cheap (docs/decisions/0007-configuration.md).
    """
    from aws_lambda_powertools.utilities.parameters import GetParameterError

    from stormwatch.config import load_config_json

    try:
        # A SecureString: the document holds the roster's phone numbers.
        text = clients.parameters().get(
            parameter_name, max_age=CONFIG_MAX_AGE_SECONDS, decrypt=True
        )
    except GetParameterError as error:
        if _aws_error_code(error.__context__) == "ParameterNotFound":
            raise ConfigError(
                parameter_name, "SSM parameter not found: push the config document first"
            ) from None
        raise
    text = str(text)
    parsed = _parsed_config.get(parameter_name)
    if parsed is not None and parsed[0] == text:
        return parsed[1]
    config = load_config_json(text)
    _parsed_config[parameter_name] = (text, config)
    return config


def load_channel_credentials(
    clients: AwsClients, secret_name: str | None, secret_key: str
) -> Mapping[str, str]:
    """The credentials of one channel from the stage's secret (never logged)."""
    from aws_lambda_powertools.utilities.parameters import TransformParameterError

    if not secret_name:
        raise ConfigError("environment CHANNEL_SECRET_NAME", "required to read credentials")
    try:
        document = clients.secrets().get(
            secret_name, transform="json", max_age=SECRET_MAX_AGE_SECONDS
        )
    except TransformParameterError:
        # Its message is the JSON parser's; nothing of the secret goes into ours.
        raise ConfigError(secret_name, "the secret is not a JSON object") from None
    if not isinstance(document, dict):
        raise ConfigError(secret_name, "the secret is not a JSON object")
    credentials = document.get(secret_key)
    if not isinstance(credentials, dict):
        raise ConfigError(
            f"{secret_name}:{secret_key}", "no credentials object under this key in the secret"
        )
    return {str(name): str(value) for name, value in credentials.items()}


def _aws_error_code(error: BaseException | None) -> str | None:
    """The AWS error code of a botocore ClientError (Powertools wraps it, keeping it as the
    context of its own GetParameterError)."""
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def clear_caches() -> None:
    """Forget every cached config document and secret of this process."""
    for clients in list(_LIVE_CLIENTS):
        clients.clear_caches()
    _parsed_config.clear()
