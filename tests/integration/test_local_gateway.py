"""The Act API on the local stack, reached as a deployed stack's is: `stormwatch` signs
with a local user's key, the gateway checks the signature as API Gateway's IAM
authorizer does and hands the function the caller's ARN (`local.gateway`, `make local`)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.gateway import create_users
from local.serve import serve, write_profiles
from local.stack import LocalStack
from local.wsgiserver import KeepAliveWSGIServer
from ops.cli import main
from tests.integration.test_act_api import act

__all__ = ["act"]


@pytest.fixture(scope="module")
def gateway(act: LocalStack) -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    server: KeepAliveWSGIServer
    server, keys = serve(act)
    yield f"http://127.0.0.1:{server.port}", keys
    server.stop()


def stormwatch(
    monkeypatch: pytest.MonkeyPatch, url: str, key: tuple[str, str], *argv: str
) -> tuple[int, str, str]:
    """The command as a person runs it in a shell: their key in the environment, the API's
    URL in STORMWATCH_API_URL, no transport given."""
    out, err = io.StringIO(), io.StringIO()
    with monkeypatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", key[0])
        env.setenv("AWS_SECRET_ACCESS_KEY", key[1])
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.setenv("STORMWATCH_API_URL", url)
        with contextlib.redirect_stderr(err):
            code = main(list(argv), out=out)
    return code, out.getvalue(), err.getvalue()


def test_given_a_person_of_act_people_when_they_pause_and_resume_then_it_is_done_as_them(
    monkeypatch: pytest.MonkeyPatch,
    gateway: tuple[str, dict[str, tuple[str, str]]],
    act: LocalStack,
) -> None:
    url, keys = gateway
    # Given Ben's own key (a publisher in the example config)
    # When he pauses, looks, and resumes through the local Act API
    paused = stormwatch(monkeypatch, url, keys["ben"], "pause", "--reason", "trying it out")
    status = stormwatch(monkeypatch, url, keys["ben"], "status")
    resumed = stormwatch(monkeypatch, url, keys["ben"], "resume")
    # Then each step went through, and the function knew it was Ben
    assert paused[0] == 0, paused
    assert "crisis mode ON" in status[1], status
    assert "by ben" in status[1], status
    assert resumed[0] == 0, resumed


def test_given_someone_not_in_act_people_when_they_pause_then_the_function_refuses(
    monkeypatch: pytest.MonkeyPatch,
    gateway: tuple[str, dict[str, tuple[str, str]]],
    act: LocalStack,
) -> None:
    url, _ = gateway
    # Given a valid AWS user of the account whom act.people does not list
    (stranger,) = create_users(act, ["arn:aws:iam::123456789012:user/mallory"]).values()
    # When she tries to pause
    code, _, error = stormwatch(monkeypatch, url, stranger, "pause", "--reason", "hm")
    # Then the signature passed, and the function itself refused her by her identity
    assert code == 2
    assert "mallory" in error


def test_given_a_wrong_secret_when_signed_then_the_gateway_refuses_before_any_function(
    monkeypatch: pytest.MonkeyPatch, gateway: tuple[str, dict[str, tuple[str, str]]]
) -> None:
    url, keys = gateway
    key_id, _ = keys["anna"]
    code, _, error = stormwatch(monkeypatch, url, (key_id, "not-her-secret"), "status")
    assert code == 2
    assert "signature" in error


def test_given_an_unknown_key_or_no_signature_then_403_as_api_gateway_answers(
    monkeypatch: pytest.MonkeyPatch, gateway: tuple[str, dict[str, tuple[str, str]]]
) -> None:
    url, _ = gateway
    unknown = stormwatch(monkeypatch, url, ("AKIAUNKNOWN000000000", "x" * 40), "status")
    unsigned = requests.get(f"{url}/status", timeout=10)
    assert unknown[0] == 2
    assert "security token" in unknown[2]
    assert unsigned.status_code == 403
    assert unsigned.json() == {"message": "Missing Authentication Token"}


def test_given_keys_when_written_as_profiles_then_each_person_has_one(tmp_path: Any) -> None:
    credentials, config = write_profiles(
        {"anna": ("AKIA1", "s1"), "ben": ("AKIA2", "s2")}, tmp_path
    )
    assert (
        "[anna]\naws_access_key_id = AKIA1\naws_secret_access_key = s1" in credentials.read_text()
    )
    assert "[profile ben]\nregion = " in config.read_text()
    assert credentials.stat().st_mode & 0o077 == 0
