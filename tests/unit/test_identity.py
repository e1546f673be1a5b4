"""Who calls comes from what AWS verified, never from the request's body."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from local.localconfig import EXAMPLE_CONFIG
from stormwatch.act.approval import NotAllowed
from stormwatch.act.identity import Unverified, resolve_caller, verified_identity
from stormwatch.config import Config, parse_config

BEN = "arn:aws:iam::123456789012:user/ben"


@pytest.fixture(scope="module")
def config() -> Config:
    return parse_config(yaml.safe_load(EXAMPLE_CONFIG.read_text()), check_coverage=False)


def _http_api_event(user_arn: str | None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    authorizer = {"iam": {"userArn": user_arn}} if user_arn else {}
    return {
        "requestContext": {"authorizer": authorizer, "http": {"method": "POST"}},
        "body": json.dumps(body or {}),
    }


def test_the_signers_arn_from_the_iam_authorizer_is_the_identity() -> None:
    assert verified_identity(_http_api_event(BEN)) == BEN


def test_a_cognito_user_is_named_by_the_jwt_authorizers_claims() -> None:
    event = {"requestContext": {"authorizer": {"jwt": {"claims": {"cognito:username": "anna"}}}}}
    assert verified_identity(event) == "cognito:anna"


def test_a_rest_apis_identity_is_read_too() -> None:
    event = {"requestContext": {"identity": {"userArn": BEN}}}
    assert verified_identity(event) == BEN


def test_a_name_in_the_body_is_never_an_identity() -> None:
    # Given a request with no verified identity that says in its body who it is
    event = _http_api_event(None, body={"identity": BEN, "approver": "ben"})
    # Then it is refused
    with pytest.raises(Unverified, match="no verified identity"):
        verified_identity(event)


def test_an_event_from_outside_the_api_is_refused() -> None:
    with pytest.raises(Unverified, match="no requestContext"):
        verified_identity({"statement": "holding-1"})


def test_the_config_names_the_person_and_their_roles(config: Config) -> None:
    caller = resolve_caller(BEN, config)
    assert (caller.contact, caller.name) == ("ben", "Ben Kraus")
    assert caller.roles == {"approver", "publisher"}


def test_an_identity_nobody_in_the_config_has_may_do_nothing(config: Config) -> None:
    with pytest.raises(NotAllowed, match=r"is nobody in act\.people"):
        resolve_caller("arn:aws:iam::123456789012:user/mallory", config)


def test_one_identity_listed_for_two_people_is_a_config_error(config: Config) -> None:
    from stormwatch.errors import ConfigError

    document = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    document["act"]["people"][1]["identities"] = [BEN]
    with pytest.raises(ConfigError, match=r"act\.people\[2\]\.identities.*already names 'anna'"):
        parse_config(document, check_coverage=False)


def test_a_person_who_is_no_contact_is_a_config_error() -> None:
    from stormwatch.errors import ConfigError

    document = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    document["act"]["people"][0]["contact"] = "zoe"
    with pytest.raises(ConfigError, match=r"act\.people\[0\]\.contact.*no contact 'zoe'"):
        parse_config(document, check_coverage=False)
