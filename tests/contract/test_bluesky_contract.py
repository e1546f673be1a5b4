"""The Bluesky fake and adapter against the published AT Protocol lexicons.

A run over the whole scenario (paging, hashtag queries, expiring access tokens) records
every exchange; each request must be what the method's lexicon accepts and each answer
what it promises. The validator itself is checked to catch violations, so a green run
means something.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import time_machine

from local.fakechannels import bluesky as fake
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import RecordedExchange, World
from local.scenario import Scenario
from stormwatch.channels import bluesky
from stormwatch.channels.base import ChannelContext, Cursor
from tests.contract.lexicon import FORMATS, SPECS, Lexicons, errors_of
from tests.helpers import context_for, example_config, start_fake

pytestmark = pytest.mark.skipif(
    not SPECS.is_dir(), reason=f"the Bluesky lexicons are not at {SPECS}"
)

SEARCH_POSTS = "app.bsky.feed.searchPosts"
CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"


@pytest.fixture(scope="module")
def lexicons() -> Lexicons:
    return Lexicons()


@pytest.fixture(autouse=True)
def _sessions_of_this_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bluesky, "_ACCOUNTS", {})


@dataclass
class Stack:
    world: World
    server: FakeChannelServer

    def context(self, **bluesky_settings: Any) -> ChannelContext:
        config = example_config(self.server.channel_url, "bluesky", **bluesky_settings)
        return context_for(config, "bluesky", lambda: self.world.credentials["bluesky"])


@pytest.fixture(scope="module")
def stack(small_scenario: Scenario) -> Iterator[Stack]:
    """One fake Bluesky for the module: the checks below only read what it recorded."""
    server = start_fake(small_scenario, "bluesky")
    yield Stack(server.world, server)
    server.stop()


@pytest.fixture(scope="module")
def scenario_run(stack: Stack, small_scenario: Scenario) -> list[RecordedExchange]:
    """Every exchange of polls every two hours over the scenario, in pages of 20, with
    access tokens that live one hour (so each poll refreshes its session first)."""
    fake.settings(stack.world)["access_token_seconds"] = 3600
    start = small_scenario.start - timedelta(minutes=1)
    cursors: dict[str, Cursor] = {}
    with time_machine.travel(small_scenario.start, tick=False) as clock:
        moment = small_scenario.start
        while moment <= small_scenario.end + timedelta(hours=2):
            clock.move_to(moment)
            for source in bluesky.mention_sources(stack.context(page_size=20)):
                for page in source.pages(cursors.get(source.key), start):
                    cursors[source.key] = page.cursor
            moment += timedelta(hours=2)
    fake.settings(stack.world)["access_token_seconds"] = 7200
    return stack.world.exchanges_of("bluesky")


def _method(exchange: RecordedExchange) -> str:
    return exchange.path.removeprefix("/xrpc/")


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in dict(headers).items()}


def test_the_scenario_run_uses_every_method_and_pages(
    scenario_run: list[RecordedExchange],
) -> None:
    # Given the recorded run over the scenario
    # Then it created a session once, refreshed it, searched with cursors and hashtags
    methods = Counter(_method(exchange) for exchange in scenario_run)
    assert methods[CREATE_SESSION] == 1
    assert methods[REFRESH_SESSION] >= 5
    searches = [e for e in scenario_run if _method(e) == SEARCH_POSTS]
    assert any(name == "cursor" for e in searches for name, _ in e.query)
    assert any(name == "tag" for e in searches for name, _ in e.query)
    assert any(b"ExpiredToken" in e.response_body for e in searches)


def test_fake_answers_match_the_lexicon_outputs(
    scenario_run: list[RecordedExchange], lexicons: Lexicons
) -> None:
    # Given the recorded run over the scenario
    checks = []
    posts = 0
    for index, exchange in enumerate(scenario_run):
        method = _method(exchange)
        headers = _lower(exchange.response_headers)
        label = f"#{index} {method} {exchange.status}"
        body = json.loads(exchange.response_body)
        # When each answer is checked against what its lexicon promises
        assert headers["content-type"].startswith("application/json"), label
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(headers)
        if exchange.status != 200:
            checks.append((label, _xrpc_error_problems(body)))
            continue
        checks.append((label, lexicons.validate_output(method, body, strict=True)))
        if method == SEARCH_POSTS:
            for post in body["posts"]:
                posts += 1
                checks.append((f"{label} {post['uri']}", _record_problems(lexicons, post)))

    # Then every answer and every post record is valid
    assert posts > 100
    assert errors_of(checks) == []


def test_adapter_requests_match_the_lexicon_inputs(
    scenario_run: list[RecordedExchange], lexicons: Lexicons
) -> None:
    # Given the recorded run over the scenario
    checks = []
    for index, exchange in enumerate(scenario_run):
        method = _method(exchange)
        label = f"#{index} {exchange.method} {method}"
        headers = _lower(exchange.headers)
        kind = lexicons.definition(method).schema["type"]
        # When each request is checked against its method's lexicon
        assert exchange.method == ("GET" if kind == "query" else "POST"), label
        checks.append((label, lexicons.validate_params(method, exchange.query, strict=True)))
        if lexicons.encoding(method, "input") is not None:
            assert headers["content-type"].startswith("application/json"), label
            body = json.loads(exchange.body)
            checks.append((label, lexicons.validate_input(method, body, strict=True)))
        else:
            assert exchange.body == b"", label
        # Then only session creation goes without a token; refresh uses the refresh token
        if method == CREATE_SESSION:
            assert "authorization" not in headers, label
        else:
            assert headers["authorization"].startswith("Bearer "), label
    assert errors_of(checks) == []


def _xrpc_error_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or set(body) - {"error", "message"}:
        return [f"not an XRPC error body: {body!r}"]
    if not isinstance(body.get("error"), str) or not isinstance(body.get("message", ""), str):
        return [f"XRPC error without a name: {body!r}"]
    return []


def _record_problems(lexicons: Lexicons, post: dict[str, Any]) -> list[str]:
    record = post["record"]
    problems = lexicons.validate(record, "app.bsky.feed.post", strict=True)
    if record.get("$type") != "app.bsky.feed.post":
        problems.append(f"record $type is {record.get('$type')!r}")
    # The lexicon says a post's record key is a TID ("key": "tid").
    rkey = post["uri"].rsplit("/", 1)[-1]
    if lexicons.definition("app.bsky.feed.post").schema["key"] == "tid" and not FORMATS["tid"](
        rkey
    ):
        problems.append(f"record key {rkey!r} is not a TID")
    text = record["text"].encode("utf-8")
    for facet in record.get("facets", []):
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        marked = text[start:end].decode("utf-8", errors="replace")
        feature = facet["features"][0]
        expected = "#" + feature["tag"] if "tag" in feature else "@"
        if not marked.startswith(expected):
            problems.append(f"facet {start}:{end} marks {marked!r}, expected {expected!r}...")
    return problems


# --- the fake's errors ------------------------------------------------------------------------


@pytest.fixture
def search_url(stack: Stack) -> str:
    return f"{stack.server.channel_url('bluesky')}/xrpc/{SEARCH_POSTS}"


@pytest.fixture
def access_jwt(stack: Stack) -> str:
    answer = requests.post(
        f"{stack.server.channel_url('bluesky')}/xrpc/{CREATE_SESSION}",
        json={"identifier": fake.ACCOUNT_HANDLE, "password": fake.CREDENTIALS["app_password"]},
        timeout=5,
    )
    token: str = answer.json()["accessJwt"]
    return token


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"sort": "latest"}, '"q"'),
        ({"q": "Nordwind", "limit": "101"}, "limit"),
        ({"q": "Nordwind", "limit": "ten"}, "limit"),
        ({"q": "Nordwind", "since": "last tuesday"}, "since"),
        ({"q": "Nordwind", "sort": "oldest"}, "sort"),
        ({"q": "Nordwind", "cursor": "not-a-cursor"}, "cursor"),
        ({"q": "Nordwind", "lang": "German"}, "lang"),
    ],
)
def test_fake_refuses_bad_parameters_as_xrpc_does(
    search_url: str, access_jwt: str, params: dict[str, str], fragment: str
) -> None:
    # Given a valid session
    # When searchPosts is called with a parameter the lexicon does not allow
    answer = requests.get(
        search_url, params=params, headers={"Authorization": f"Bearer {access_jwt}"}, timeout=5
    )
    # Then the answer is 400 InvalidRequest naming the parameter
    assert answer.status_code == 400
    assert answer.json()["error"] == "InvalidRequest"
    assert fragment in answer.json()["message"]


def test_fake_refuses_missing_and_expired_tokens(search_url: str, access_jwt: str) -> None:
    # Given no token, then a token whose lifetime has passed
    missing = requests.get(search_url, params={"q": "Nordwind"}, timeout=5)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=3), tick=False):
        expired = requests.get(
            search_url,
            params={"q": "Nordwind"},
            headers={"Authorization": f"Bearer {access_jwt}"},
            timeout=5,
        )
    # Then XRPC says AuthenticationRequired (401) and ExpiredToken (400)
    assert (missing.status_code, missing.json()["error"]) == (401, "AuthenticationRequired")
    assert (expired.status_code, expired.json()["error"]) == (400, "ExpiredToken")


# --- the validator itself ---------------------------------------------------------------------

GOOD_POST = {
    "$type": "app.bsky.feed.post",
    "text": "Nordwind Air again #NordwindAir",
    "createdAt": "2026-11-22T03:00:00.000Z",
    "langs": ["en"],
    "facets": [
        {
            "index": {"byteStart": 19, "byteEnd": 31},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "NordwindAir"}],
        }
    ],
}


def test_validator_accepts_a_valid_post(lexicons: Lexicons) -> None:
    assert lexicons.validate(GOOD_POST, "app.bsky.feed.post", strict=True) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"createdAt": None}, "missing required field 'createdAt'"),
        ({"createdAt": "2026-11-22 03:00"}, "is not a valid datetime"),
        ({"createdAt": "2026-13-45T03:00:00Z"}, "is not a valid datetime"),
        ({"text": "é" * 301}, "more than maxGraphemes 300"),
        ({"langs": ["en", "de", "fr", "pl"]}, "more than maxLength 3"),
        ({"langs": ["English"]}, "is not a valid language"),
        ({"embed": {"$type": "app.bsky.embed.poll", "options": []}}, "is not one of"),
        ({"embed": {"uri": "https://example.com"}}, "needs a $type"),
        ({"surprise": True}, "unexpected field 'surprise'"),
    ],
)
def test_validator_catches_violations(
    lexicons: Lexicons, change: dict[str, Any], expected: str
) -> None:
    # Given a valid post record with one thing broken
    record = {key: value for key, value in {**GOOD_POST, **change}.items() if value is not None}
    # When it is validated strictly
    errors = lexicons.validate(record, "app.bsky.feed.post", strict=True)
    # Then the error says what is wrong
    assert any(expected in error for error in errors), errors


def test_validator_checks_nested_refs_and_union_members(lexicons: Lexicons) -> None:
    # Given a facet whose tag feature has no tag, and one that is a link without a URI
    broken = {
        **GOOD_POST,
        "facets": [
            {
                "index": {"byteStart": 0, "byteEnd": 3},
                "features": [{"$type": "app.bsky.richtext.facet#tag"}],
            },
            {
                "index": {"byteStart": -1, "byteEnd": 3},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "no uri"}],
            },
        ],
    }
    # When validated
    errors = lexicons.validate(broken, "app.bsky.feed.post", strict=True)
    # Then each problem is found at its path
    assert "$.facets[0].features[0]: missing required field 'tag'" in errors
    assert any("$.facets[1].index.byteStart: -1 is below the minimum 0" in e for e in errors)
    assert any("$.facets[1].features[0].uri" in e and "valid uri" in e for e in errors)


def test_open_unions_accept_unknown_members_unless_strict(lexicons: Lexicons) -> None:
    # Given a post embedding a type this lexicon version does not know
    record = {**GOOD_POST, "embed": {"$type": "app.bsky.embed.poll", "options": []}}
    # Then the spec's open union accepts it, and strict mode does not
    assert lexicons.validate(record, "app.bsky.feed.post") == []
    assert lexicons.validate(record, "app.bsky.feed.post", strict=True) != []


def test_validator_checks_query_parameters(lexicons: Lexicons) -> None:
    # Given searchPosts parameters: a valid set, and broken ones
    good = [("q", "Nordwind"), ("limit", "100"), ("tag", "a"), ("tag", "b")]
    broken = [("limit", "101"), ("limt", "5"), ("sort", "latest"), ("sort", "top")]
    # Then the valid set passes and each mistake is named
    assert lexicons.validate_params(SEARCH_POSTS, good, strict=True) == []
    errors = lexicons.validate_params(SEARCH_POSTS, broken, strict=True)
    assert "params: missing required parameter 'q'" in errors
    assert "params: unknown parameter 'limt'" in errors
    assert "params.limit: 101 is above the maximum 100" in errors
    assert "params.sort: given 2 times, but is not an array" in errors


def test_validator_checks_session_outputs(lexicons: Lexicons) -> None:
    # Given a createSession answer with a bad DID and no refresh token
    answer = {"accessJwt": "a", "handle": "stormwatch.bsky.social", "did": "plc:abc"}
    # Then both problems are reported
    errors = lexicons.validate_output(CREATE_SESSION, answer)
    assert "$: missing required field 'refreshJwt'" in errors
    assert any(e.startswith("$.did:") and "valid did" in e for e in errors)
