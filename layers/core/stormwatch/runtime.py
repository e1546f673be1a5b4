"""What a handler needs from its surroundings: environment, AWS clients, cached config and
credentials. Clients are created on first use, never at import (cold starts)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stormwatch.config import Config, load_config_json
from stormwatch.errors import ConfigError

if TYPE_CHECKING:
    from botocore.config import Config as BotocoreConfig

CONFIG_TTL_SECONDS = 60.0
SECRET_TTL_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Environment:
    """The function's environment variables, validated when the handler starts."""

    stage: str
    table_name: str
    config_parameter: str
    channel_secret_name: str | None = None
    alerts_topic_arn: str | None = None
    ops_topic_arn: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Environment:
        values = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = values.get(name, "").strip()
            if not value:
                raise ConfigError(f"environment {name}", "required but not set")
            return value

        return cls(
            stage=required("STAGE"),
            table_name=required("TABLE_NAME"),
            config_parameter=required("CONFIG_PARAMETER"),
            channel_secret_name=values.get("CHANNEL_SECRET_NAME") or None,
            alerts_topic_arn=values.get("ALERTS_TOPIC_ARN") or None,
            ops_topic_arn=values.get("OPS_TOPIC_ARN") or None,
        )

    def topics(self) -> tuple[str, str]:
        """The alerts and ops topics, which a function that notifies must have."""
        if not self.alerts_topic_arn or not self.ops_topic_arn:
            raise ConfigError(
                "environment ALERTS_TOPIC_ARN/OPS_TOPIC_ARN", "required to send notifications"
            )
        return self.alerts_topic_arn, self.ops_topic_arn


class AwsClients:
    """boto3 clients made on first use and kept for warm invocations.

    The endpoint comes from the standard `AWS_ENDPOINT_URL` variable when set (the local
    stack sets it), so there is no local/AWS switch in this code.
    """

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(  # type: ignore[call-overload]
                service, config=_botocore_config()
            )
        return self._clients[service]


def _botocore_config() -> BotocoreConfig:
    from botocore.config import Config as BotocoreConfig

    return BotocoreConfig(
        connect_timeout=3,
        read_timeout=10,
        retries={"mode": "standard", "max_attempts": 4},
    )


class TimedCache:
    """A value that is fetched again once it is older than `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        entry = self._values.get(key)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        self._values[key] = (time.monotonic(), value)

    def clear(self) -> None:
        self._values.clear()


_config_cache = TimedCache(CONFIG_TTL_SECONDS)
_secret_cache = TimedCache(SECRET_TTL_SECONDS)


def load_config(clients: AwsClients, parameter_name: str) -> Config:
    """The validated config document from SSM; a change is picked up within a minute."""
    cached = _config_cache.get(parameter_name)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    ssm = clients.client("ssm")
    try:
        answer = ssm.get_parameter(Name=parameter_name)
    except ssm.exceptions.ParameterNotFound:
        raise ConfigError(
            parameter_name, "SSM parameter not found: push the config document first"
        ) from None
    config = load_config_json(answer["Parameter"]["Value"])
    _config_cache.put(parameter_name, config)
    return config


def load_channel_credentials(
    clients: AwsClients, secret_name: str | None, secret_key: str
) -> Mapping[str, str]:
    """The credentials of one channel from the stage's secret (never logged)."""
    if not secret_name:
        raise ConfigError("environment CHANNEL_SECRET_NAME", "required to read credentials")
    document = _secret_cache.get(secret_name)
    if document is None:
        answer = clients.client("secretsmanager").get_secret_value(SecretId=secret_name)
        try:
            document = json.loads(answer["SecretString"])
        except (KeyError, ValueError):
            raise ConfigError(secret_name, "the secret is not a JSON object") from None
        if not isinstance(document, dict):
            raise ConfigError(secret_name, "the secret is not a JSON object")
        _secret_cache.put(secret_name, document)
    credentials = document.get(secret_key)
    if not isinstance(credentials, dict):
        raise ConfigError(
            f"{secret_name}:{secret_key}", "no credentials object under this key in the secret"
        )
    return {str(name): str(value) for name, value in credentials.items()}


def clear_caches() -> None:
    _config_cache.clear()
    _secret_cache.clear()
