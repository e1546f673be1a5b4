"""The deployed transport: requests signed with SigV4 for execute-api (no network), and
the stack's API URL found from CloudFormation's outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from botocore.credentials import Credentials

from ops.transport import ApiTransport, find_api_url

URL = "https://abc123.execute-api.eu-central-1.amazonaws.com"


def test_given_credentials_when_a_request_is_signed_then_it_names_execute_api_and_the_region() -> (
    None
):
    sent: list[tuple[str, str, Mapping[str, str], bytes | None]] = []

    def send(
        method: str, url: str, headers: Mapping[str, str], data: bytes | None
    ) -> tuple[int, str]:
        sent.append((method, url, headers, data))
        return 409, json.dumps({"error": "crisis mode is already on: set by ben"})

    transport = ApiTransport(
        URL, "eu-central-1", Credentials("AKIDEXAMPLE", "secret", "token"), send
    )

    answer = transport.request("POST", "/pause", {"reason": "storm"})

    ((method, url, headers, data),) = sent
    assert (method, url) == ("POST", f"{URL}/pause")
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-central-1/execute-api/aws4_request" in authorization
    assert "SignedHeaders=" in authorization
    assert headers["X-Amz-Security-Token"] == "token"
    assert "X-Amz-Date" in headers
    assert json.loads(data or b"") == {"reason": "storm"}
    assert not answer.ok
    assert answer.error == "crisis mode is already on: set by ben"


def test_given_a_body_changed_after_signing_then_the_signature_differs() -> None:
    transport = ApiTransport(URL, "eu-central-1", Credentials("AKIDEXAMPLE", "secret"))
    _, first, _ = transport.signed("POST", "/statements/s-1/approve", {"sha256": "a" * 64})
    _, second, _ = transport.signed("POST", "/statements/s-1/approve", {"sha256": "b" * 64})
    assert first["Authorization"] != second["Authorization"]


def _stack(name: str, url: str | None) -> dict[str, Any]:
    outputs = [{"OutputKey": "TableName", "OutputValue": "stormwatch-prod"}]
    if url:
        outputs.append({"OutputKey": "ActApiUrl", "OutputValue": url})
    return {"StackName": name, "Outputs": outputs}


def test_given_one_stormwatch_stack_when_no_name_is_given_then_its_url() -> None:
    stacks = [_stack("stormwatch-prod", URL), _stack("other", None)]
    assert find_api_url(None, {}, lambda name: stacks) == URL


def test_given_a_name_in_the_environment_then_that_stack_is_asked() -> None:
    asked: list[str | None] = []

    def describe(name: str | None) -> list[dict[str, Any]]:
        asked.append(name)
        return [_stack("stormwatch-staging", URL)]

    assert find_api_url(None, {"STORMWATCH_STACK": "stormwatch-staging"}, describe) == URL
    assert asked == ["stormwatch-staging"]


def test_given_two_stacks_when_no_name_is_given_then_a_clear_error() -> None:
    stacks = [_stack("stormwatch-prod", URL), _stack("stormwatch-staging", URL)]
    with pytest.raises(LookupError, match="several stormwatch stacks"):
        find_api_url(None, {}, lambda name: stacks)
    with pytest.raises(LookupError, match="pass --stack"):
        find_api_url(None, {}, lambda name: [])


@pytest.mark.parametrize("status", [503, 504])
def test_given_the_gateway_gives_up_when_answered_then_the_step_is_still_running(
    status: int,
) -> None:
    # Given an HTTP API that answers 503 after its 30 s (504: our own request timeout)
    def send(
        method: str, url: str, headers: Mapping[str, str], data: bytes | None
    ) -> tuple[int, str]:
        return status, json.dumps({"message": "Service Unavailable"})

    transport = ApiTransport(URL, "eu-central-1", Credentials("AKID", "secret"), send)

    # When a release is sent
    answer = transport.request("POST", "/statements/x/release", {"sha256": "0" * 64})

    # Then the answer says the step may still be running, not that it failed
    assert answer.still_running
    assert not answer.ok


def test_given_the_request_times_out_when_sent_then_504_not_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    from ops import transport as module

    def slow(*_args: Any, **kwargs: Any) -> Any:
        assert kwargs["timeout"] == module.REQUEST_TIMEOUT_SECONDS
        raise requests.Timeout("read timed out")

    monkeypatch.setattr(requests, "request", slow)

    status, text = module._send_with_requests("POST", f"{URL}/pause", {}, b"{}")

    assert status == 504
    assert "no answer within" in text
