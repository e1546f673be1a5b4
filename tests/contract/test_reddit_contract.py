"""The fake Reddit and the Reddit adapter against Reddit's documented API.

Reddit publishes no machine-readable spec. `documented/reddit/` holds the documented
answers (token, the two listings, error bodies) and endpoints (paths, parameters as JSON
Schemas, required headers, rate-limit headers), each file naming its documentation page.
The fake's answers must have the documented structure - the same keys with the same JSON
types, no invented ones - and the adapter's recorded requests may use only documented
endpoints, parameters and headers.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
import pytest
import requests

from local.fakechannels import reddit as fake
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import RecordedExchange, World
from local.scenario import Post, Scenario, build_scenario
from stormwatch.channels import reddit
from stormwatch.config import Config
from tests.conftest import ConfigFactory, ContextFactory

DOCUMENTED = Path(__file__).parent / "documented" / "reddit"
TOKEN_PATH = "/api/v1/access_token"


@pytest.fixture(scope="module")
def small_scenario() -> Scenario:
    """reddit alone at a third of the demo's volume: enough posts for several pages per source."""
    return build_scenario(volume=0.3, seed=11, channels=("reddit",))


def _documented(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DOCUMENTED / f"{name}.json").read_text("utf-8"))
    return document


def assert_same_shape(
    actual: Any, documented: Any, where: str = "", nullable: frozenset[str] = frozenset()
) -> None:
    """`actual` has the keys of `documented`, no others, and the same JSON types. A value
    documented as null may be anything; list items are compared with the first example."""
    if documented is None or (actual is None and where.lstrip(".") in nullable):
        return
    if isinstance(documented, dict):
        assert isinstance(actual, dict), f"{where or '$'}: expected an object"
        missing, extra = set(documented) - set(actual), set(actual) - set(documented)
        assert not missing, f"{where or '$'}: documented keys missing: {sorted(missing)}"
        assert not extra, f"{where or '$'}: keys the documentation lacks: {sorted(extra)}"
        for key, value in documented.items():
            assert_same_shape(actual[key], value, f"{where}.{key}", nullable)
    elif isinstance(documented, list):
        assert isinstance(actual, list), f"{where}: expected an array"
        for index, item in enumerate(actual if documented else []):
            assert_same_shape(item, documented[0], f"{where}[{index}]", nullable)
    elif isinstance(documented, bool):
        assert isinstance(actual, bool), f"{where}: expected a boolean, got {actual!r}"
    elif isinstance(documented, int | float):
        assert not isinstance(actual, bool), f"{where}: expected a number, got {actual!r}"
        assert isinstance(actual, int | float), f"{where}: expected a number, got {actual!r}"
    else:
        assert isinstance(actual, type(documented)), f"{where}: expected {type(documented)}"


# --- a recorded session ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_cached_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reddit, "_TOKENS", {})


@pytest.fixture
def paged_config(config_for: ConfigFactory) -> Config:
    return config_for("reddit", page_size=4)


@pytest.fixture
def exchanges(
    channel_context: ContextFactory,
    paged_config: Config,
    small_scenario: Scenario,
    world: World,
    now: datetime,
) -> list[RecordedExchange]:
    """Every source read in pages, a token revoked half way (so a renewal is recorded too)."""
    start = small_scenario.start - timedelta(minutes=1)
    for index, source in enumerate(
        reddit.mention_sources(channel_context("reddit", config=paged_config))
    ):
        if index == 2:
            fake.revoke_tokens(world)
        for _ in source.pages(None, start):
            pass
    return world.exchanges_of("reddit")


def _api(exchanges: list[RecordedExchange], status: int = 200) -> list[RecordedExchange]:
    return [e for e in exchanges if e.path != TOKEN_PATH and e.status == status]


# --- the fake's answers ------------------------------------------------------------------------


def test_the_token_answer_has_the_documented_shape(exchanges: list[RecordedExchange]) -> None:
    # Given the recorded token requests / When their answers are read
    answers = [json.loads(e.response_body) for e in exchanges if e.path == TOKEN_PATH]

    # Then each has the documented fields, and a bearer token for a day
    assert len(answers) == 2
    for answer in answers:
        assert_same_shape(answer, _documented("access_token")["example"])
        assert (answer["token_type"], answer["expires_in"]) == ("bearer", 86400)


def test_listings_have_the_documented_shape(exchanges: list[RecordedExchange]) -> None:
    # Given the recorded search and comment listings
    searches = [e for e in _api(exchanges) if e.path == "/search"]
    comments = [e for e in _api(exchanges) if e.path.endswith("/comments")]
    assert len(searches) > 2
    assert len(comments) > 2

    # When their bodies are compared with the documented examples
    # Then they have the documented keys and types, link and comment alike
    for documented, recorded in (
        ("search_listing", searches),
        ("subreddit_comments_listing", comments),
    ):
        example = _documented(documented)
        for exchange in recorded:
            assert_same_shape(
                json.loads(exchange.response_body),
                example["example"],
                nullable=frozenset(example["nullable"]),
            )


def test_api_answers_carry_the_documented_rate_limit_headers(
    exchanges: list[RecordedExchange],
) -> None:
    # Given the documented names of the rate-limit headers
    names = _documented("endpoints")["rate_limit_headers"]

    # When the recorded API answers are read / Then each carries all three, in their forms
    answers = _api(exchanges)
    assert answers
    for exchange in answers:
        headers = {key.lower(): value for key, value in exchange.response_headers.items()}
        assert {name.lower() for name in names} <= set(headers)
        assert headers["x-ratelimit-used"].isdigit()
        assert float(headers["x-ratelimit-remaining"]) >= 0
        assert 0 <= int(headers["x-ratelimit-reset"]) <= 600


def test_error_answers_have_the_documented_shape(
    fake_server: FakeChannelServer, world: World, now: datetime
) -> None:
    # Given a valid token and the documented error bodies
    base = fake_server.channel_url("reddit")
    agent = {"User-Agent": "linux:stormwatch-contract:0.1 (by /u/stormwatch)"}
    token = requests.post(
        base + TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        auth=(fake.CREDENTIALS["client_id"], fake.CREDENTIALS["client_secret"]),
        headers=agent,
        timeout=5,
    ).json()["access_token"]
    bearer = {**agent, "Authorization": f"bearer {token}"}
    documented = _documented("errors")["examples"]

    # When requests go wrong in each documented way
    def get(path: str, headers: dict[str, str], **params: str) -> requests.Response:
        return requests.get(base + path, params=params, headers=headers, timeout=5)

    answers = {
        401: get("/search", agent, q="x"),
        400: get("/search", bearer, q="x", limit="500"),
        404: get("/r/nosuchsub/comments", bearer),
    }
    fake.set_request_budget(world, 0)
    answers[429] = get("/search", bearer, q="x")

    # Then each error body has the documented shape and says its status
    for status, answer in answers.items():
        assert answer.status_code == status
        assert_same_shape(answer.json(), documented[str(status)])
        assert answer.json()["error"] == status
    assert "invalid_token" in answers[401].headers["WWW-Authenticate"]
    assert answers[429].headers["X-Ratelimit-Remaining"] == "0.0"


def test_a_refused_grant_is_answered_as_documented(
    fake_server: FakeChannelServer, now: datetime
) -> None:
    # Given valid client credentials but the password grant, which app-only clients lack
    answer = requests.post(
        fake_server.channel_url("reddit") + TOKEN_PATH,
        data={"grant_type": "password"},
        auth=(fake.CREDENTIALS["client_id"], fake.CREDENTIALS["client_secret"]),
        headers={"User-Agent": "linux:stormwatch-contract:0.1"},
        timeout=5,
    )

    # Then Reddit's quirk: 200 with an error code
    assert answer.status_code == 200
    assert answer.json() == _documented("access_token")["refused_grant_example"]


def test_a_default_library_user_agent_is_refused(
    fake_server: FakeChannelServer, now: datetime
) -> None:
    # Given requests' own User-Agent / When the search is asked / Then Reddit throttles it
    answer = requests.get(fake_server.channel_url("reddit") + "/search?q=x", timeout=5)
    assert answer.status_code == 429


def test_without_raw_json_texts_come_with_the_legacy_escaping() -> None:
    # Given a post whose text holds &, < and >
    post = Post(
        1, "reddit", "link", datetime.fromisoformat("2026-11-22T10:00:00+00:00"),
        "anna_k", "Anna", "Nordwind & Co <3 >:(", "en", (), 0, 3, 0, 0,
    )  # fmt: skip

    # When it is rendered without and with raw_json=1
    legacy = fake.render_link(post, raw_json=False)["data"]["title"]
    raw = fake.render_link(post, raw_json=True)["data"]["title"]

    # Then only the legacy form is entity-escaped, as the API documentation describes
    assert legacy == "Nordwind &amp; Co &lt;3 &gt;:("
    assert raw == post.text


# --- the adapter's requests ---------------------------------------------------------------------


def _endpoint(exchange: RecordedExchange) -> dict[str, Any]:
    for endpoint in _documented("endpoints")["endpoints"]:
        if endpoint["method"] == exchange.method and re.match(endpoint["path"], exchange.path):
            found: dict[str, Any] = endpoint
            return found
    raise AssertionError(f"undocumented endpoint {exchange.method} {exchange.path}")


def test_the_adapter_calls_only_documented_endpoints_with_documented_parameters(
    exchanges: list[RecordedExchange],
) -> None:
    # Given the documented endpoints and their parameters as JSON Schemas
    definitions = _documented("endpoints")["definitions"]

    # When every recorded request is matched with its endpoint
    # Then its query string (and form) validates, and listings ask for raw_json=1
    for exchange in exchanges:
        endpoint = _endpoint(exchange)
        query = dict(exchange.query)
        assert len(query) == len(exchange.query), f"repeated parameter in {exchange.query}"
        schema = {**endpoint["query_schema"], "definitions": definitions}
        jsonschema.validate(query, schema)
        if "form_schema" in endpoint:
            jsonschema.validate(dict(parse_qsl(exchange.body.decode())), endpoint["form_schema"])
        else:
            assert query["raw_json"] == "1"
            assert exchange.body == b""
    searches = [dict(e.query) for e in exchanges if e.path == "/search"]
    assert {(q["sort"], q["type"]) for q in searches} == {("new", "link")}
    assert any("after" in q for q in searches)


def test_the_adapter_sends_its_user_agent_and_the_documented_authorization(
    exchanges: list[RecordedExchange], paged_config: Config
) -> None:
    # Given the configured User-Agent and the client credentials
    agent = paged_config.channel("reddit").text("user_agent")
    basic = base64.b64encode(
        f"{fake.CREDENTIALS['client_id']}:{fake.CREDENTIALS['client_secret']}".encode()
    ).decode()

    # When the recorded requests are read
    # Then each names the app; the token request uses basic auth, API calls the bearer token
    for exchange in exchanges:
        headers = {key.lower(): value for key, value in exchange.headers.items()}
        assert headers["user-agent"] == agent
        if exchange.path == TOKEN_PATH:
            assert headers["authorization"] == f"Basic {basic}"
        else:
            scheme, _, token = headers["authorization"].partition(" ")
            assert scheme.lower() == "bearer"
            assert token


def test_credentials_and_tokens_travel_in_the_authorization_header_only(
    exchanges: list[RecordedExchange],
) -> None:
    # Given every secret value of the session: client secret and the tokens handed out
    tokens = [
        json.loads(e.response_body)["access_token"] for e in exchanges if e.path == TOKEN_PATH
    ]
    secrets = [fake.CREDENTIALS["client_secret"], *tokens]

    # When paths, query strings and the other headers are searched
    # Then none of them holds a secret
    for exchange in exchanges:
        others = {k: v for k, v in exchange.headers.items() if k.lower() != "authorization"}
        visible = f"{exchange.path}?{exchange.query}{others}"
        assert not any(secret in visible for secret in secrets)


def test_the_adapter_reads_the_documented_examples() -> None:
    # Given the documented link and comment
    link = _documented("search_listing")["example"]["data"]["children"][0]
    comment = _documented("subreddit_comments_listing")["example"]["data"]["children"][0]

    # When the adapter reads them
    read_link, read_comment = reddit.read_thing(link, "t3"), reddit.read_thing(comment, "t1")

    # Then ids are fullnames, urls permalinks on reddit.com, engagement the score
    assert read_link is not None
    assert read_link.mention is not None
    assert read_comment is not None
    assert read_comment.mention is not None
    assert (read_link.mention.id, read_link.mention.engagement) == ("t3_1gx2k3b", 42)
    assert read_link.mention.url == "https://www.reddit.com" + link["data"]["permalink"]
    assert read_link.mention.text == "Nordwind Air streicht alle Flüge ab Hamburg"
    assert (read_comment.mention.id, read_comment.mention.author) == ("t1_lx9a2bc", "travelmike")
    assert read_comment.mention.text == comment["data"]["body"]
