"""The Bluesky adapter against the fake Bluesky: paging, cursors, sessions, limits, bad answers."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from local.fakechannels import bluesky as fake
from local.fakechannels.world import RecordedExchange, World
from local.scenario import Post, Scenario
from stormwatch.channels import bluesky
from stormwatch.channels.http import HttpClient
from stormwatch.errors import (
    AuthFailed,
    ChannelUnavailable,
    MalformedResponse,
    RateLimited,
)
from stormwatch.text import MAX_TEXT_CHARS, clean_text
from tests.conftest import ContextFactory
from tests.helpers import read_pages, source_of

SEARCH = "/xrpc/app.bsky.feed.searchPosts"
CREATE = "/xrpc/com.atproto.server.createSession"
REFRESH = "/xrpc/com.atproto.server.refreshSession"
NORDWIND = "search:nordwind"
# What the "Nordwind" query finds: the word on its own, not inside @nordwindair or #NordwindAir.
NORDWIND_WORD = re.compile(r"\bnordwind\b", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _sessions_of_this_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bluesky, "_ACCOUNTS", {})


@pytest.fixture
def clock(small_scenario: Scenario) -> Iterator[Any]:
    """Frozen time just after the scenario's end; tests move it where they need."""
    with time_machine.travel(small_scenario.end + timedelta(minutes=5), tick=False) as traveller:
        yield traveller


def nordwind_posts(scenario: Scenario, until: datetime) -> list[Post]:
    return [
        post
        for post in scenario.channel_posts("bluesky")
        if NORDWIND_WORD.search(post.text) and post.created_at <= until
    ]


def exchanges(world: World, path: str) -> list[RecordedExchange]:
    return [e for e in world.exchanges_of("bluesky") if e.path == path]


def reset_header(exchange: RecordedExchange) -> datetime:
    headers = {k.lower(): v for k, v in exchange.response_headers.items()}
    return datetime.fromtimestamp(int(headers["ratelimit-reset"]), tz=UTC)


# --- queries and mentions -------------------------------------------------------------------


def test_sources_are_one_per_keyword_and_hashtag_and_send_nothing_until_read(
    channel_context: ContextFactory, world: World
) -> None:
    # Given the example brands (Nordwind Air: "Nordwind Air", "NordwindAir", "Nordwind",
    # #NordwindAir; Kolibri Pay: "Kolibri Pay", "KolibriPay", #KolibriPay)
    asked = []

    def credentials() -> dict[str, str]:
        asked.append("secret")
        return world.credentials["bluesky"]

    context = dataclasses.replace(channel_context("bluesky"), credentials=credentials)
    # When the sources are built
    sources = bluesky.mention_sources(context)
    # Then each query has a stable key; "Nordwind Air" is left to the broader "Nordwind"
    assert [s.key for s in sources] == [
        "search:nordwindair",
        "search:nordwind",
        "search:kolibri pay",
        "search:kolibripay",
        "tag:nordwindair",
        "tag:kolibripay",
    ]
    assert {s.channel for s in sources} == {"bluesky"}
    # And neither the secret nor the service has been touched yet
    assert asked == []
    assert world.exchanges_of("bluesky") == []


def test_post_views_become_mentions(
    channel_context: ContextFactory, small_scenario: Scenario, clock: Any, start: datetime
) -> None:
    # Given the whole scenario in the past
    expected = {fake.mention_id(p): p for p in nordwind_posts(small_scenario, datetime.now(UTC))}
    assert expected
    # When the "Nordwind" source reads everything
    mentions, _ = read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # Then each post becomes one mention carrying what Bluesky says about it
    assert sorted(m.id for m in mentions) == sorted(expected)
    for mention in mentions:
        post = expected[mention.id]
        handle = fake.handle_of(post.author)
        assert mention.channel == "bluesky"
        assert mention.url == f"https://bsky.app/profile/{handle}/post/{mention.id.split('/')[-1]}"
        assert mention.author == handle
        assert mention.text == clean_text(post.text)
        assert mention.created_at == post.created_at
        assert mention.language == post.lang
        assert (mention.reach, mention.engagement) == (0, post.engagement)


def test_odd_unicode_survives_and_huge_texts_are_capped(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    clock: Any,
    start: datetime,
) -> None:
    # Given a post with a family emoji (joiners) and one whose text is enormous
    posts = nordwind_posts(small_scenario, datetime.now(UTC))
    family = next(p for p in small_scenario.channel_posts("bluesky") if "\u200d" in p.text)
    huge = posts[0]
    enormous = "Nordwind Air hat meinen Flug gestrichen! " * 500

    def replace_text(view: dict[str, Any]) -> dict[str, Any]:
        view["record"]["text"] = enormous
        return view

    fake.settings(world)["mangle_post"][fake.mention_id(huge)] = replace_text
    # When all hashtag and keyword sources read
    by_id = {}
    for source in bluesky.mention_sources(channel_context("bluesky")):
        by_id.update({m.id: m for m in read_pages(source, None, start)[0]})
    # Then the joiners are intact and the huge text is cut at the limit
    assert "👨\u200d👩\u200d👧" in by_id[fake.mention_id(family)].text
    capped = by_id[fake.mention_id(huge)].text
    assert len(capped) == MAX_TEXT_CHARS
    assert capped.endswith("…")


def test_paging_repeats_the_first_query_with_the_cursor(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    clock: Any,
    start: datetime,
) -> None:
    # Given pages of ten posts
    context = channel_context("bluesky", page_size=10)
    expected = {fake.mention_id(p) for p in nordwind_posts(small_scenario, datetime.now(UTC))}
    # When the source reads its chain to the end
    mentions, _ = read_pages(source_of(context, NORDWIND), None, start)
    # Then every match was read once, ten at a time
    assert Counter(m.id for m in mentions) == Counter(expected)
    searches = exchanges(world, SEARCH)
    assert len(searches) == -(-len(expected) // 10)
    # And every page asked the same question, the later ones with the service's cursor
    first = dict(searches[0].query)
    assert (first["sort"], first["limit"]) == ("latest", "10")
    assert "cursor" not in first
    for exchange in searches[1:]:
        params = dict(exchange.query)
        assert params.pop("cursor")
        assert params == first


# --- rate limits ------------------------------------------------------------------------------


def test_429_raises_rate_limited_until_reset_and_keeps_the_cursor(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    clock: Any,
    start: datetime,
) -> None:
    # Given a first page read and committed
    source = source_of(channel_context("bluesky", page_size=10), NORDWIND)
    first, cursor = read_pages(source, None, start, pages=1)
    # When the next search is answered 429
    world.faults.arm("status:429", channel="bluesky", path_contains="searchPosts")
    with pytest.raises(RateLimited) as raised:
        read_pages(source, cursor, start)
    # Then the retry time is Bluesky's ratelimit-reset, and nothing was read
    refused = exchanges(world, SEARCH)[-1]
    assert refused.status == 429
    assert raised.value.retry_at == reset_header(refused)
    # And after the reset the committed cursor resumes where the first page ended
    clock.move_to(raised.value.retry_at + timedelta(seconds=1))
    rest, _ = read_pages(source, cursor, start)
    expected = {fake.mention_id(p) for p in nordwind_posts(small_scenario, small_scenario.end)}
    assert Counter(m.id for m in first + rest) == Counter(expected)


def test_remaining_zero_yields_the_page_then_stops_before_the_next_request(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    clock: Any,
    start: datetime,
) -> None:
    # Given a budget of three requests: the session, and two searches
    fake.settings(world)["rate_limit"] = {"limit": 3, "window_seconds": 300}
    context = channel_context("bluesky", page_size=10)
    source = source_of(context, NORDWIND)
    pages = source.pages(None, start)
    # When two pages are read, the second answered with ratelimit-remaining 0
    first, second = next(pages), next(pages)
    last = exchanges(world, SEARCH)[-1]
    assert ("ratelimit-remaining", "0") in last.response_headers.items()
    # Then both pages came through, and the third is refused before anything is sent
    assert len(first.mentions) == len(second.mentions) == 10
    sent = len(world.exchanges_of("bluesky"))
    with pytest.raises(RateLimited) as raised:
        next(pages)
    assert raised.value.retry_at == reset_header(last)
    # And so is every other source of the process, without a request
    with pytest.raises(RateLimited):
        read_pages(source_of(channel_context("bluesky"), "search:kolibripay"), None, start)
    assert len(world.exchanges_of("bluesky")) == sent
    # And once the window has passed the committed cursor goes on without a gap
    clock.move_to(raised.value.retry_at + timedelta(seconds=1))
    fake.settings(world)["rate_limit"] = {"limit": 3000, "window_seconds": 300}
    rest, _ = read_pages(source, second.cursor, start)
    expected = {fake.mention_id(p) for p in nordwind_posts(small_scenario, small_scenario.end)}
    assert Counter(m.id for m in [*first.mentions, *second.mentions, *rest]) == Counter(expected)


def test_session_creation_has_its_own_budget(
    channel_context: ContextFactory,
    world: World,
    clock: Any,
    start: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the service allows one new session per window, and one was created
    fake.settings(world)["session_limit"] = {"limit": 1, "window_seconds": 300}
    read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # When a new process (no cached session) starts polling
    monkeypatch.setattr(bluesky, "_ACCOUNTS", {})
    with pytest.raises(RateLimited) as raised:
        read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # Then it is told when it may create one, and searched nothing
    refused = exchanges(world, CREATE)[-1]
    assert refused.status == 429
    assert raised.value.retry_at == reset_header(refused)
    assert len(exchanges(world, SEARCH)) == 1


# --- malformed answers and failures -----------------------------------------------------------


@pytest.mark.parametrize("fault", ["bad_json", "truncated"])
def test_unreadable_json_is_malformed(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime, fault: str
) -> None:
    # Given the search answers with broken JSON
    world.faults.arm(fault, channel="bluesky", path_contains="searchPosts")
    # When the source reads
    with pytest.raises(MalformedResponse, match="invalid JSON"):
        read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)


def test_an_html_error_page_is_retried_once_then_unavailable(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime
) -> None:
    # Given a proxy in front of Bluesky answers with an HTML 502 page, once
    world.faults.arm("html", channel="bluesky", path_contains="searchPosts")
    # Then the retry reads normally
    assert read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)[0]
    # And when it answers so twice, the channel is unavailable for this run
    world.faults.arm("html", channel="bluesky", path_contains="searchPosts", times=2)
    with pytest.raises(ChannelUnavailable, match="502"):
        read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        ({"cursor": "abc"}, "no 'posts' list"),
        ({"posts": {"uri": "at://x"}}, "no 'posts' list"),
        ({"posts": [], "cursor": 25}, "'cursor' is not a string"),
        (["posts"], "not an object"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_malformed(
    channel_context: ContextFactory,
    world: World,
    clock: Any,
    start: datetime,
    answer: object,
    complaint: str,
) -> None:
    # Given searchPosts answers valid JSON of the wrong shape
    fake.settings(world)["mangle_search"] = lambda _: answer
    # When the source reads, Then the error says what is wrong
    with pytest.raises(MalformedResponse, match=re.escape(complaint)):
        read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda view: {**view, "record": {**view["record"], "createdAt": "tomorrow-ish"}},
        lambda view: {**view, "record": {k: v for k, v in view["record"].items() if k != "text"}},
        lambda view: {k: v for k, v in view.items() if k != "author"},
        lambda view: {**view, "likeCount": "many"},
        lambda view: {**view, "uri": "https://bsky.app/not-an-at-uri"},
    ],
    ids=["bad-createdAt", "no-text", "no-author", "bad-count", "bad-uri"],
)
def test_one_bad_post_is_logged_and_skipped(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    clock: Any,
    start: datetime,
    caplog: pytest.LogCaptureFixture,
    breakage: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    # Given one post of the page is broken
    posts = nordwind_posts(small_scenario, datetime.now(UTC))
    bad = posts[len(posts) // 2]
    fake.settings(world)["mangle_post"][fake.mention_id(bad)] = breakage
    # When the source reads
    with caplog.at_level(logging.WARNING, logger="stormwatch.channels.bluesky"):
        mentions, _ = read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # Then every other post is read, and the bad one is logged by channel, never by its text
    assert sorted(m.id for m in mentions) == sorted(
        fake.mention_id(p) for p in posts if p is not bad
    )
    (warning,) = caplog.records
    message = warning.getMessage()
    assert message.startswith("bluesky: skipped a malformed post")
    assert clean_text(bad.text)[:20] not in message


def test_a_post_without_langs_has_no_language(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    clock: Any,
    start: datetime,
) -> None:
    # Given a post whose record has no langs
    post = nordwind_posts(small_scenario, datetime.now(UTC))[0]
    fake.settings(world)["mangle_post"][fake.mention_id(post)] = lambda view: {
        **view,
        "record": {k: v for k, v in view["record"].items() if k != "langs"},
    }
    # When it is read, Then its language is left for detection
    mentions, _ = read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    assert next(m for m in mentions if m.id == fake.mention_id(post)).language is None


def test_a_slow_answer_times_out_as_unavailable(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime
) -> None:
    # Given a client that waits 0.3 s and Bluesky takes a second to answer the search
    context = dataclasses.replace(
        channel_context("bluesky"), http=HttpClient("bluesky", timeout=0.3, retries=0)
    )
    world.faults.arm("slow:1", channel="bluesky", path_contains="searchPosts")
    # When the source reads, Then the channel is unavailable for this run
    with pytest.raises(ChannelUnavailable, match="timed out"):
        read_pages(source_of(context, NORDWIND), None, start)


def test_refused_credentials_are_auth_failed_without_the_password(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime
) -> None:
    # Given an app password that Bluesky does not accept
    world.credentials["bluesky"]["app_password"] = "zzzz-zzzz-zzzz-zzzz"
    # When the source reads
    with pytest.raises(AuthFailed) as raised:
        read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # Then it says the login was refused, without the password, and searched nothing
    assert "AuthenticationRequired" in str(raised.value)
    assert "zzzz" not in str(raised.value)
    assert exchanges(world, SEARCH) == []


def test_a_secret_without_identifier_is_auth_failed(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime
) -> None:
    # Given a secret that lacks the identifier field
    del world.credentials["bluesky"]["identifier"]
    # When the source reads, Then the error names the missing field
    with pytest.raises(AuthFailed, match="'identifier'"):
        read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    assert world.exchanges_of("bluesky") == []


# --- chains -----------------------------------------------------------------------------------


def test_a_chain_cut_short_resumes_without_skipping_while_posts_arrive(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    clock: Any,
    start: datetime,
) -> None:
    # Given, at the storm's peak, a run that read two pages of five and stopped
    peak = small_scenario.storm_start + timedelta(hours=3)
    later = peak + timedelta(minutes=45)
    clock.move_to(peak)
    source = source_of(channel_context("bluesky", page_size=5), NORDWIND)
    first, cursor = read_pages(source, None, start, pages=2)
    pinned = dict(exchanges(world, SEARCH)[0].query)["until"]
    # When new posts arrive before the next run, which finishes the chain, and one more run
    clock.move_to(later)
    assert len(nordwind_posts(small_scenario, later)) > len(nordwind_posts(small_scenario, peak))
    rest, cursor = read_pages(source, cursor, start)
    resumed = len(exchanges(world, SEARCH))
    newer, _ = read_pages(source, cursor, start)
    # Then the resumed chain kept its own question (the same `until`)...
    assert {dict(e.query)["until"] for e in exchanges(world, SEARCH)[:resumed]} == {pinned}
    # ...and together the runs read every post up to now exactly once
    expected = {fake.mention_id(p) for p in nordwind_posts(small_scenario, later)}
    assert Counter(m.id for m in first + rest + newer) == Counter(expected)


def test_a_post_indexed_late_inside_the_overlap_is_read_once(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    clock: Any,
    start: datetime,
) -> None:
    # Given two storm posts a few minutes apart, the earlier reaching the index late
    posts = nordwind_posts(small_scenario, small_scenario.end)
    late, after = next(
        (p, q)
        for p, q in itertools.pairwise(posts)
        if p.created_at > small_scenario.storm_start
        and timedelta(minutes=1) < q.created_at - p.created_at < timedelta(minutes=5)
    )
    delay = (after.created_at - late.created_at) + timedelta(minutes=2)
    fake.settings(world)["index_delay"][fake.mention_id(late)] = delay.total_seconds()
    source = source_of(channel_context("bluesky"), NORDWIND)
    seen: Counter[str] = Counter()
    cursor = None
    # When polls run before it is indexed, after, and once more
    for moment in (
        after.created_at + timedelta(seconds=30),
        late.created_at + delay + timedelta(seconds=30),
        late.created_at + delay + timedelta(minutes=5),
    ):
        clock.move_to(moment)
        mentions, cursor = read_pages(source, cursor, start)
        seen.update(m.id for m in mentions)
        if moment == after.created_at + timedelta(seconds=30):
            assert fake.mention_id(after) in seen
            assert fake.mention_id(late) not in seen
    # Then the late post was read, once, and so was every other post
    assert seen[fake.mention_id(late)] == 1
    assert set(seen.values()) == {1}
    assert set(seen) == {fake.mention_id(p) for p in nordwind_posts(small_scenario, moment)}


def test_a_post_indexed_during_a_cut_short_chain_shifts_pages_without_repeats(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    clock: Any,
    start: datetime,
) -> None:
    # Given the newest storm post before the peak reaches the index only minutes later
    peak = small_scenario.storm_start + timedelta(hours=3)
    late = nordwind_posts(small_scenario, peak)[-1]
    delay = peak - late.created_at + timedelta(minutes=5)
    fake.settings(world)["index_delay"][fake.mention_id(late)] = delay.total_seconds()
    source = source_of(channel_context("bluesky", page_size=5), NORDWIND)
    # When a run at the peak reads one page, and the chain resumes after the post appeared
    # (it sorts above that page, so the service's offset pages all move down by one)
    clock.move_to(peak)
    first, cursor = read_pages(source, None, start, pages=1)
    clock.move_to(peak + timedelta(minutes=10))
    rest, cursor = read_pages(source, cursor, start)
    newer, _ = read_pages(source, cursor, start)
    # Then the shifted post is not read twice, and the late one comes with the next chain
    assert fake.mention_id(late) not in {m.id for m in first + rest}
    expected = {
        fake.mention_id(p) for p in nordwind_posts(small_scenario, peak + timedelta(minutes=10))
    }
    assert Counter(m.id for m in first + rest + newer) == Counter(expected)


def test_a_refused_page_cursor_resumes_below_the_chain_floor(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    clock: Any,
    start: datetime,
) -> None:
    # Given a chain cut short whose saved page cursor the service no longer accepts
    source = source_of(channel_context("bluesky", page_size=5), NORDWIND)
    first, cursor = read_pages(source, None, start, pages=1)
    assert cursor is not None
    token = json.loads(cursor["chain"]["token"])
    cursor["chain"]["token"] = json.dumps({**token, "c": "bm90LWEtY3Vyc29y"})
    # When the next run resumes it
    rest, _ = read_pages(source, cursor, start)
    # Then it carries on by time below what it read, and misses nothing
    expected = {fake.mention_id(p) for p in nordwind_posts(small_scenario, small_scenario.end)}
    assert {m.id for m in first + rest} == expected


# --- sessions ---------------------------------------------------------------------------------


def test_ten_runs_in_one_process_create_one_session(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime
) -> None:
    # Given one process (a warm Lambda)
    # When ten invocations each build their sources and read
    for _ in range(10):
        read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # Then one session served them all
    assert len(exchanges(world, CREATE)) == 1
    assert len(exchanges(world, SEARCH)) == 10


def test_an_expired_access_token_is_refreshed_not_recreated(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime
) -> None:
    # Given access tokens that live one minute, and a first run
    fake.settings(world)["access_token_seconds"] = 60
    read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # When the next run comes five minutes later
    clock.move_to(datetime.now(UTC) + timedelta(minutes=5))
    mentions, _ = read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # Then its search met ExpiredToken, the session was refreshed, and the search went through
    searches = exchanges(world, SEARCH)
    assert [e.status for e in searches] == [200, 400, 200]
    assert b"ExpiredToken" in searches[1].response_body
    assert len(exchanges(world, CREATE)) == 1
    assert [e.status for e in exchanges(world, REFRESH)] == [200]
    assert mentions


def test_a_refused_refresh_token_leads_to_a_new_session(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime
) -> None:
    # Given both tokens have expired since the last run
    fake.settings(world)["access_token_seconds"] = 60
    fake.settings(world)["refresh_token_seconds"] = 120
    read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    clock.move_to(datetime.now(UTC) + timedelta(minutes=10))
    # When the next run searches
    mentions, _ = read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # Then the refresh was refused and only then a new session created
    assert [e.status for e in exchanges(world, REFRESH)] == [400]
    assert len(exchanges(world, CREATE)) == 2
    assert mentions


def test_a_rate_limited_refresh_is_retried_later_not_replaced_by_a_login(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime
) -> None:
    # Given an expired access token whose refresh is answered 429
    fake.settings(world)["access_token_seconds"] = 60
    read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    clock.move_to(datetime.now(UTC) + timedelta(minutes=5))
    world.faults.arm("status:429", channel="bluesky", path_contains="refreshSession")
    with pytest.raises(RateLimited) as raised:
        read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # When the next run comes after the reset
    clock.move_to(raised.value.retry_at + timedelta(seconds=1))
    mentions, _ = read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    # Then it refreshed the same session rather than creating another
    assert [e.status for e in exchanges(world, REFRESH)] == [429, 200]
    assert len(exchanges(world, CREATE)) == 1
    assert mentions


def test_a_token_the_service_forgot_leads_to_a_new_session(
    channel_context: ContextFactory, world: World, clock: Any, start: datetime
) -> None:
    # Given the service lost its sessions (a restart, a revoked app password)
    read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    fake.settings(world)["tokens"].clear()
    # When the next run searches, Then it logs in again and reads
    mentions, _ = read_pages(source_of(channel_context("bluesky"), NORDWIND), None, start)
    assert b"InvalidToken" in exchanges(world, SEARCH)[1].response_body
    assert exchanges(world, REFRESH) == []
    assert len(exchanges(world, CREATE)) == 2
    assert mentions


def test_importing_the_adapter_loads_no_http_or_aws_library() -> None:
    # Given a fresh interpreter, When the adapter module is imported
    code = (
        "import sys; import stormwatch.channels.bluesky; "
        "print(sorted(m for m in ('requests', 'boto3', 'botocore', 'urllib3') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={"PYTHONPATH": str(root / "layers" / "core")},
    )
    # Then none of the heavy libraries came with it
    assert result.stdout.strip() == "[]"
