"""Contract: the lookups' requests and the fakes' answers for X, Mastodon and Bluesky,
against the published specs (X and Mastodon OpenAPI, the Bluesky lexicons), with the
same named corrections as the channels' own contract tests.

Gaps the specs leave open, checked by hand below:
- X answers an unknown username with 200 and a ``resource-not-found`` problem in
  ``errors[]`` (the spec allows it: ``data`` is optional), never with 404.
- Mastodon's ``/api/v1/tags/{name}`` declares its 404 with the ``Error`` schema; the
  fake's "nobody has used it" answer is checked against it like any other.
- resolveHandle's lexicon names ``HandleNotFound``; getProfile names no error, and the
  services answer an unknown actor ``InvalidRequest`` with "Profile not found".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import RecordedExchange, World
from stormwatch.channels import bluesky
from stormwatch.channels.lookup import lookup_for
from stormwatch.channels.lookup.mastodon import instance_limits
from tests.conftest import ContextFactory
from tests.contract.lexicon import SPECS as LEXICONS
from tests.contract.lexicon import Lexicons, errors_of
from tests.contract.openapi import Operation, Spec
from tests.contract.test_mastodon_contract import SPEC as MASTODON_SPEC
from tests.contract.test_x_contract import LIVE_NAMES
from tests.contract.test_x_contract import SPEC as X

Run = Callable[[str], list[RecordedExchange]]


class _ConcretePathsFirst(Spec):
    """OpenAPI matches a concrete path before a templated one (``/api/v1/accounts/lookup``
    before ``/api/v1/accounts/{id}``); `Spec.operation` takes the first in document order."""

    def operation(self, method: str, path: str) -> Operation:
        item = self.document["paths"].get(path)
        if item is not None and method.lower() in item:
            return Operation(method.lower(), path, item[method.lower()], {})
        return super().operation(method, path)


MASTODON = _ConcretePathsFirst(MASTODON_SPEC.document)


@pytest.fixture(autouse=True)
def _bluesky_sessions_of_this_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bluesky, "_ACCOUNTS", {})


@pytest.fixture
def lookups_run(
    fake_server: FakeChannelServer, world: World, channel_context: ContextFactory, now: datetime
) -> Run:
    """Every kind of lookup on a channel: known and unknown accounts and tags (and, on
    Mastodon, the instance's limits); returns what the channel's fake recorded."""
    del fake_server, now
    accounts = {
        "x": ["@nordwindair", "@anna_k", "@no_such_user"],
        "mastodon": ["@nordwindair", "@anna_k@mastodon.example", "@no_such_user"],
        "bluesky": ["nordwindair.bsky.social", "nordwind-old.bsky.social", "ghost.bsky.social"],
    }

    def run(channel: str) -> list[RecordedExchange]:
        lookup = lookup_for(channel, channel_context(channel))
        for handle in accounts[channel]:
            lookup.lookup_account(handle)
        for tag in ("NordwindAir", "SturmOhneNamen"):
            lookup.lookup_tag(tag)
        if channel == "mastodon":
            instance_limits(channel_context(channel))
        return world.exchanges_of(channel)

    return run


def _statuses(exchanges: list[RecordedExchange]) -> set[tuple[str, int]]:
    return {(exchange.path, exchange.status) for exchange in exchanges}


def test_x_lookup_answers_and_requests_match_the_published_spec(lookups_run: Run) -> None:
    # Given a run of every X lookup
    exchanges = lookups_run("x")
    assert {path for path, _ in _statuses(exchanges)} >= {
        "/2/users/by/username/nordwindair",
        "/2/users/by/username/no_such_user",
        "/2/tweets/search/recent",
    }
    assert {status for _, status in _statuses(exchanges)} == {200}

    # When the answers and requests are checked against the spec
    problems = X.check_answers(exchanges) + X.check_requests(exchanges, aliases=LIVE_NAMES)

    # Then none departs from it, and the unknown user is a problem, not data
    assert problems == []
    unknown = next(e for e in exchanges if e.path.endswith("/no_such_user"))
    body = json.loads(unknown.response_body)
    assert "data" not in body
    assert body["errors"][0]["type"].endswith("/resource-not-found")


def test_x_user_lookup_refusals_match_the_published_invalid_request_problem(
    fake_server: FakeChannelServer, world: World
) -> None:
    import requests

    # Given requests the live API refuses: a username X cannot have, an unknown field
    url = fake_server.channel_url("x") + "/2/users/by/username/"
    headers = {"Authorization": f"Bearer {world.credentials['x']['bearer_token']}"}
    requests.get(url + "much_too_long_username", headers=headers, timeout=5)
    requests.get(
        url + "nordwindair", params={"user.fields": "shoe_size"}, headers=headers, timeout=5
    )

    # When the answers are checked against the spec's problem for 400
    refusals = world.exchanges_of("x")
    assert [exchange.status for exchange in refusals] == [400, 400]

    # Then they match it, naming the parameter
    assert X.check_answers(refusals) == []
    names = [set(json.loads(e.response_body)["errors"][0]["parameters"]) for e in refusals]
    assert names == [{"username"}, {"user.fields"}]


def test_mastodon_lookup_answers_and_requests_match_the_published_spec(lookups_run: Run) -> None:
    # Given a run of every Mastodon lookup: accounts, tags (one unknown) and the instance
    exchanges = lookups_run("mastodon")
    assert _statuses(exchanges) >= {
        ("/api/v1/accounts/lookup", 200),
        ("/api/v1/accounts/lookup", 404),
        ("/api/v1/tags/NordwindAir", 200),
        ("/api/v1/tags/SturmOhneNamen", 404),
        ("/api/v2/instance", 200),
    }

    # When the answers (404s too) and requests are checked against the spec
    problems = MASTODON.check_answers(exchanges) + MASTODON.check_requests(exchanges)

    # Then none departs from it, and the token travels in the Authorization header
    assert problems == []
    assert all(e.headers.get("Authorization", "").startswith("Bearer ") for e in exchanges)


def test_mastodon_instance_document_is_a_published_instance_with_the_configured_limit(
    lookups_run: Run, world: World
) -> None:
    world.channel_state("mastodon")["max_characters"] = 11_000

    exchanges = [e for e in lookups_run("mastodon") if e.path == "/api/v2/instance"]

    assert MASTODON.check_answers(exchanges) == []
    body = json.loads(exchanges[0].response_body)
    assert body["configuration"]["statuses"]["max_characters"] == 11_000
    assert body["configuration"]["statuses"]["characters_reserved_per_url"] == 23


@pytest.mark.skipif(not LEXICONS.is_dir(), reason=f"the Bluesky lexicons are not at {LEXICONS}")
def test_bluesky_lookup_answers_and_requests_match_the_lexicons(lookups_run: Run) -> None:
    lexicons = Lexicons(LEXICONS)
    # Given a run of every Bluesky lookup: a good, a stale and an unknown handle, two tags
    exchanges = lookups_run("bluesky")
    methods = {e.path.removeprefix("/xrpc/") for e in exchanges}
    assert {
        "com.atproto.identity.resolveHandle",
        "app.bsky.actor.getProfile",
        "app.bsky.feed.searchPosts",
    } <= methods

    # When each request and answer is checked against its method's lexicon (strictly)
    checks: list[tuple[str, list[str]]] = []
    for index, exchange in enumerate(exchanges):
        method = exchange.path.removeprefix("/xrpc/")
        label = f"#{index} {method} {exchange.status}"
        checks.append((label, lexicons.validate_params(method, exchange.query, strict=True)))
        body: Any = json.loads(exchange.response_body)
        if exchange.status == 200:
            checks.append((label, lexicons.validate_output(method, body, strict=True)))
        else:
            checks.append((label, _xrpc_error_problems(body)))

    # Then all are valid; the unknown handle is refused with the lexicon's error name
    assert errors_of(checks) == []
    refusals = [json.loads(e.response_body)["error"] for e in exchanges if e.status != 200]
    assert refusals == ["HandleNotFound"]


def _xrpc_error_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or set(body) - {"error", "message"}:
        return [f"not an XRPC error body: {body!r}"]
    if not isinstance(body.get("error"), str):
        return [f"XRPC error without a name: {body!r}"]
    return []
