"""Contract: the fake X API and the X adapter, checked against X's published OpenAPI document.

shared/specs/x/openapi.json (xdevplatform/xdk) is generated for the SDK, which renamed
"tweet" to "post"; the live API still speaks "tweet". The fake follows the live API, and the
spec's known errors are corrected here, one named fix each, instead of bending the fake:

1. The field list parameter is ``tweet.fields`` live, ``post.fields`` in the spec (alias).
2. The ``post.fields`` enum lacks live fields that its own Post schema has: ``author_id``,
   ``in_reply_to_user_id``, ``edit_history_tweet_ids``, ``referenced_tweets``.
3. A post's ``public_metrics`` requires ``repost_count`` in the spec; live it is
   ``retweet_count``.
4. A user's ``public_metrics`` requires ``post_count``; live it is ``tweet_count``.

Gaps the spec leaves open, checked by hand below:
- no response declares the ``x-rate-limit-*`` headers;
- the ``default`` error response offers ``{code, message}`` (the old v1.1 shape) or a typed
  problem; the live 401, 429 and 5xx answers are RFC 7807 problems of type ``about:blank``,
  which match neither. The 400 invalid-request problem does match.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import time_machine

from local.fakechannels import x as fake
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import RecordedExchange
from local.scenario import Scenario
from stormwatch.channels import x
from stormwatch.channels.http import HttpClient
from tests.contract.openapi import SPECS, Spec
from tests.helpers import context_for, example_config, start_fake

LIVE_NAMES = {"tweet.fields": "post.fields"}


def _accept_live_post_fields(document: dict[str, Any]) -> None:
    enum = document["components"]["parameters"]["PostFieldsParameter"]["schema"]["items"]["enum"]
    enum.extend(["author_id", "in_reply_to_user_id", "edit_history_tweet_ids", "referenced_tweets"])


def _live_metric_names(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for schema, spec_name, live_name in (
        ("PostPublicMetrics", "repost_count", "retweet_count"),
        ("UserPublicMetrics", "post_count", "tweet_count"),
    ):
        metrics = schemas[schema]
        metrics["properties"][live_name] = metrics["properties"].pop(spec_name)
        metrics["required"] = [live_name if n == spec_name else n for n in metrics["required"]]


SPEC = Spec.load(SPECS / "x" / "openapi.json").patched(_accept_live_post_fields, _live_metric_names)

# RFC 7807, as the live API sends for 401, 429 and 5xx (the spec has no schema for it).
GENERIC_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "enum": ["about:blank"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


@pytest.fixture(scope="module")
def full_run(small_scenario: Scenario) -> Iterator[list[RecordedExchange]]:
    """Every X source read over the whole scenario in the ways the poll loop reads it: a
    first chain cut short after one page, resumed after its token expired, then a poll that
    finds nothing new. Yields what the fake recorded."""
    server = start_fake(small_scenario, "x")
    world = server.world
    config = example_config(server.channel_url, "x", page_size=10)
    context = context_for(
        config, "x", lambda: world.credentials["x"], http=HttpClient("x", timeout=5)
    )
    start = small_scenario.start - timedelta(minutes=1)
    with time_machine.travel(small_scenario.end + timedelta(minutes=5), tick=False) as clock:
        for source in x.mention_sources(context):
            cursor = next(iter(source.pages(None, start))).cursor
            clock.shift(fake.DEFAULT_PAGING_TTL + timedelta(minutes=1))
            for page in source.pages(cursor, start):
                cursor = page.cursor
            assert list(source.pages(cursor, start))[-1].cursor == cursor
    yield world.exchanges_of("x")
    server.stop()


def test_fake_answers_match_the_published_response_schemas(
    full_run: list[RecordedExchange],
) -> None:
    # Given the answers the fake gave to a full run of the adapter
    answers = [exchange for exchange in full_run if exchange.status == 200]
    assert len(answers) > 20

    # When each is checked against its operation's response in the spec
    problems = SPEC.check_answers(answers)

    # Then none departs from it
    assert problems == []


def test_adapter_requests_match_the_published_parameters(
    full_run: list[RecordedExchange],
) -> None:
    # Given the requests of a full run, covering every way the adapter pages
    sent = {name for exchange in full_run for name, _ in exchange.query}
    assert {
        "query",
        "max_results",
        "start_time",
        "since_id",
        "until_id",
        "next_token",
        "pagination_token",
    } <= sent

    # When each is checked against its operation's parameters and security in the spec
    problems = SPEC.check_requests(full_run, aliases=LIVE_NAMES)

    # Then all are valid, and the token travels in the Authorization header only
    assert problems == []
    token = fake.CREDENTIALS["bearer_token"]
    assert all(token not in f"{exchange.path}?{exchange.query}" for exchange in full_run)


def test_expired_page_tokens_are_answered_with_the_published_invalid_request_problem(
    full_run: list[RecordedExchange],
) -> None:
    # Given the 400s the fake answered to the expired tokens of the full run
    refusals = [exchange for exchange in full_run if exchange.status == 400]
    assert refusals

    # When they are checked against the spec's error responses
    problems = SPEC.check_answers(refusals)

    # Then they are the spec's InvalidRequestProblem
    assert problems == []


def test_rate_limit_headers_are_integers_with_an_epoch_reset(
    full_run: list[RecordedExchange],
) -> None:
    # Given the successful answers of a full run (the spec declares no headers for them)
    headers = [exchange.response_headers for exchange in full_run if exchange.status == 200]
    assert headers

    # Then each carries X's three rate-limit headers as integers, the reset in epoch seconds
    for answer in headers:
        values = {name.lower(): value for name, value in answer.items()}
        limit = int(values["x-rate-limit-limit"])
        remaining = int(values["x-rate-limit-remaining"])
        reset = int(values["x-rate-limit-reset"])
        assert 0 <= remaining < limit
        assert 1_700_000_000 < reset < 2_100_000_000


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/2/tweets/search/recent", {"query": "Nordwind", "max_results": "9"}, "max_results"),
        ("/2/tweets/search/recent", {"query": "Nordwind", "max_results": "101"}, "max_results"),
        ("/2/tweets/search/recent", {"query": "Nordwind", "since_id": "12ab"}, "since_id"),
        ("/2/tweets/search/recent", {"query": "Nordwind", "start_time": "today"}, "start_time"),
        ("/2/tweets/search/recent", {"query": "Nordwind", "post.fields": "lang"}, "post.fields"),
        ("/2/tweets/search/recent", {"query": ""}, "query"),
        ("/2/tweets/search/recent", {"query": "Nordwind", "sort_order": "oldest"}, "sort_order"),
        ("/2/tweets/search/recent", {"query": "x" * 513}, "query"),
        ("/2/tweets/search/recent", {"query": "(Nordwind"}, "query"),
        ("/2/tweets/search/recent", {"query": "-Nordwind"}, "query"),
        ("/2/users/1500000000000000001/mentions", {"max_results": "4"}, "max_results"),
        ("/2/users/1500000000000000001/mentions", {"next_token": "abc"}, "next_token"),
        ("/2/users/1500000000000000001/mentions", {"tweet.fields": "nope"}, "tweet.fields"),
    ],
)
def test_fake_refuses_what_the_live_api_refuses(
    fake_server: FakeChannelServer, path: str, params: dict[str, str], parameter: str
) -> None:
    # Given a request the live API refuses
    # When it is sent to the fake
    answer = requests.get(
        fake_server.channel_url("x") + path,
        params=params,
        headers={"Authorization": f"Bearer {fake.CREDENTIALS['bearer_token']}"},
        timeout=5,
    )

    # Then the fake answers X's 400 problem naming the parameter, as the spec describes it
    assert answer.status_code == 400
    body = answer.json()
    assert any(parameter in error["parameters"] for error in body["errors"])
    problems = SPEC.check_response(
        "GET", path, answer.status_code, dict(answer.headers), answer.content
    )
    assert problems == []


def test_a_stale_token_refused_as_a_bare_problem_matches_the_published_invalid_request(
    fake_server: FakeChannelServer,
) -> None:
    # Given the fake refusing stale page tokens as X also does: the problem alone, naming
    # the parameter and its value, without errors[]
    fake_server.world.channel_state("x")[fake.PAGING_REFUSAL] = fake.PROBLEM_DETAILS

    # When a request carries a token X never issued
    path = "/2/tweets/search/recent"
    answer = requests.get(
        fake_server.channel_url("x") + path,
        params={"query": "Nordwind", "next_token": "1jzu9lk96gu5npw"},
        headers={"Authorization": f"Bearer {fake.CREDENTIALS['bearer_token']}"},
        timeout=5,
    )

    # Then it is the spec's InvalidRequestProblem with parameter and value
    assert answer.status_code == 400
    body = answer.json()
    assert "errors" not in body
    assert (body["parameter"], body["value"]) == ("next_token", "1jzu9lk96gu5npw")
    invalid_request = {"$ref": "#/components/schemas/InvalidRequestProblem"}
    assert SPEC.check_schema(invalid_request, body) == []
    assert SPEC.check_response("GET", path, 400, dict(answer.headers), answer.content) == []


@pytest.mark.parametrize("status", [401, 429, 503])
def test_generic_problems_are_rfc7807_which_the_spec_does_not_describe(
    fake_server: FakeChannelServer, status: int
) -> None:
    # Given the fake answers a status with X's generic problem body
    fake_server.world.faults.arm(f"status:{status}", channel="x")

    # When a request meets it
    answer = requests.get(
        fake_server.channel_url("x") + "/2/tweets/search/recent",
        params={"query": "Nordwind"},
        timeout=5,
    )

    # Then the body is an RFC 7807 problem of type about:blank, with the status it came with
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert SPEC.check_schema(GENERIC_PROBLEM, answer.json()) == []
    assert answer.json()["status"] == status
