"""The X adapter against the fake X API: paging, cursors, rate limits, failures, normalising."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from local.fakechannels import x as fake
from local.fakechannels.world import World
from local.scenario import Post, Scenario
from stormwatch.channels import x
from stormwatch.channels.base import Cursor
from stormwatch.channels.http import HttpClient
from stormwatch.config import Brand
from stormwatch.errors import (
    AuthFailed,
    ChannelError,
    ChannelUnavailable,
    ConfigError,
    MalformedResponse,
    RateLimited,
)
from stormwatch.text import MAX_TEXT_CHARS
from tests.conftest import ContextFactory
from tests.helpers import read_pages, source_of

ACCOUNT_ID = "1500000000000000001"


@pytest.fixture
def storm(small_scenario: Scenario) -> Iterator[Any]:
    """The clock three hours into the storm, frozen until a test moves it."""
    with time_machine.travel(small_scenario.storm_start + timedelta(hours=3), tick=False) as clock:
        yield clock


def _storm_posts(world: World, since: datetime) -> list[Post]:
    return [
        post
        for post in world.visible_posts("x")
        if "nordwind-air" in post.brands and post.created_at >= since
    ]


def _queries(world: World) -> list[dict[str, str]]:
    return [dict(exchange.query) for exchange in world.exchanges_of("x")]


# --- queries and sources ------------------------------------------------------------------


def test_search_query_ors_quoted_keywords_and_hashtags_without_retweets() -> None:
    # Given a brand whose keywords include a phrase, operator-like text and a plain word
    brand = Brand(
        id="acme",
        name="Acme",
        keywords=("Acme Corp", "Acme", "from:acme", "or"),
        hashtags=("AcmeFail",),
    )

    # When its X query is built
    query = x.search_query(brand, exclude_retweets=True)

    # Then configured text is searched as text, OR-ed, and retweets are left out
    assert query == '("Acme Corp" OR Acme OR "from:acme" OR "or" OR #AcmeFail) -is:retweet'


def test_search_query_longer_than_x_accepts_is_a_config_error_naming_the_brand() -> None:
    # Given a brand with more keywords than one X query can hold
    brand = Brand(id="acme", name="Acme", keywords=tuple(f"keyword{i:03d}" for i in range(60)))

    # When its query is built
    with pytest.raises(ConfigError) as error:
        x.search_query(brand, exclude_retweets=False, key="brands[3]")

    # Then the error names the brand's keywords and X's limit
    assert error.value.key == "brands[3].keywords"
    assert "512" in str(error.value)


def test_sources_are_a_search_per_brand_and_the_brand_accounts_mentions(
    channel_context: ContextFactory,
) -> None:
    # Given the example configuration with an account id for X
    # When the X sources are listed
    sources = x.mention_sources(channel_context("x"))

    # Then there is one search per brand and one mentions timeline, each with a stable key
    assert [source.key for source in sources] == [
        "search:nordwind-air",
        "search:kolibri-pay",
        f"mentions:{ACCOUNT_ID}",
    ]


# --- reading and normalising --------------------------------------------------------------


def test_posts_are_normalised_as_the_scenario_knows_them(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given two hours of storm on X
    now = datetime.now(UTC)
    context = channel_context("x", page_size=100)

    # When the brand search reads them
    mentions, _ = read_pages(
        source_of(context, "search:nordwind-air"), None, now - timedelta(hours=2)
    )

    # Then each mention is the scenario post: id, permalink, handle, time, language, reach,
    # engagement (likes + retweets + replies + quotes)
    posts = {fake.mention_id(post): post for post in _storm_posts(world, now - timedelta(hours=2))}
    assert len(mentions) == len(posts) > 20
    for mention in mentions:
        post = posts[mention.id]
        assert mention.channel == "x"
        assert mention.url == f"https://x.com/{fake.username(post)}/status/{mention.id}"
        assert mention.author == fake.username(post)
        assert mention.created_at == post.created_at
        assert mention.created_at.tzinfo is not None
        assert mention.language == post.lang
        assert (mention.reach, mention.engagement) == (post.reach, post.engagement)


def test_pages_run_newest_first_without_overlap_and_the_finished_chain_moves_the_watermark(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given more storm posts than fit on several pages
    now = datetime.now(UTC)
    context = channel_context("x", page_size=10)
    source = source_of(context, "search:nordwind-air")

    # When the source reads all pages
    pages = list(source.pages(None, now - timedelta(hours=2)))

    # Then the pages go down in id without overlap, the first asks from start_time, the others
    # by next_token, and only the last cursor holds the new watermark (the newest id)
    ids = [int(mention.id) for page in pages for mention in page.mentions]
    assert len(pages) > 3
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)
    queries = _queries(world)
    assert "start_time" in queries[0]
    assert all("next_token" in query for query in queries[1:])
    assert all("chain" in page.cursor for page in pages[:-1])
    assert pages[-1].cursor["watermark"] == str(max(ids))


def test_the_next_poll_asks_only_for_newer_posts(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given a finished chain
    now = datetime.now(UTC)
    source = source_of(channel_context("x", page_size=10), "search:nordwind-air")
    read, cursor = read_pages(source, None, now - timedelta(hours=1))

    # When twenty minutes later the source polls again
    storm.shift(timedelta(minutes=20))
    newer, _ = read_pages(source, cursor, now - timedelta(hours=1))

    # Then it asks since the watermark and gets exactly the posts of those minutes
    assert cursor is not None
    assert [query.get("since_id") for query in _queries(world)][-2:] == [
        cursor["watermark"],
        cursor["watermark"],
    ]
    arrived = {fake.mention_id(post) for post in _storm_posts(world, now + timedelta(seconds=1))}
    assert {mention.id for mention in newer} == arrived
    assert not {mention.id for mention in newer} & {mention.id for mention in read}


def test_credentials_are_fetched_only_when_a_request_is_made_and_sent_as_a_bearer_header(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given a context that counts how often its secret is read
    calls: list[int] = []

    def credentials() -> dict[str, str]:
        calls.append(1)
        return world.credentials["x"]

    context = replace(channel_context("x"), credentials=credentials)

    # When the sources are listed, then one of them reads
    sources = x.mention_sources(context)
    assert calls == []
    read_pages(sources[0], None, datetime.now(UTC) - timedelta(minutes=30))

    # Then the secret was read once, and the token went in the Authorization header only
    assert calls == [1]
    token = fake.CREDENTIALS["bearer_token"]
    exchange = world.exchanges_of("x")[0]
    assert exchange.headers["Authorization"] == f"Bearer {token}"
    assert token not in f"{exchange.path}?{exchange.query}"


def test_the_first_chain_keeps_its_start_when_the_next_run_is_given_another(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given a first chain cut short after one page
    now = datetime.now(UTC)
    source = source_of(channel_context("x", page_size=10), "search:nordwind-air")
    first = next(iter(source.pages(None, now - timedelta(hours=2))))

    # When the next run resumes it with a later start
    list(source.pages(first.cursor, now - timedelta(minutes=10)))

    # Then every page of the chain asked the same start_time
    assert {query["start_time"] for query in _queries(world)} == {
        (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    }


# --- cursors across runs ------------------------------------------------------------------


def test_a_chain_cut_short_resumes_below_its_floor_while_new_posts_keep_arriving(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given a run that read only the first page of a long chain
    start = datetime.now(UTC) - timedelta(hours=2)
    source = source_of(channel_context("x", page_size=10), "search:nordwind-air")
    first = next(iter(source.pages(None, start)))
    requests_before = len(world.exchanges_of("x"))

    # When new posts arrive and the next runs resume from its cursor
    storm.shift(timedelta(minutes=30))
    resumed, cursor = read_pages(source, first.cursor, start)
    newest, _ = read_pages(source, cursor, start)

    # Then the resumed run went on with the page token instead of jumping to the newest id,
    # and together the runs read every post once
    assert "next_token" in _queries(world)[requests_before]
    ids = [m.id for m in [*first.mentions, *resumed, *newest]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {fake.mention_id(post) for post in _storm_posts(world, start)}
    assert newest


@pytest.mark.parametrize("shape", [fake.PARAMETER_ERRORS, fake.PROBLEM_DETAILS])
def test_an_expired_page_token_resumes_the_chain_by_until_id(
    channel_context: ContextFactory, world: World, storm: Any, shape: str
) -> None:
    # Given a chain cut short after one page, whose token then expires, and X refusing it
    # with errors[].parameters or as a bare problem ({"type", "title", "parameter", "value"})
    world.channel_state("x")[fake.PAGING_TTL] = timedelta(seconds=30)
    world.channel_state("x")[fake.PAGING_REFUSAL] = shape
    start = datetime.now(UTC) - timedelta(hours=2)
    expected = {fake.mention_id(post) for post in _storm_posts(world, start)}
    source = source_of(channel_context("x", page_size=10), "search:nordwind-air")
    first = next(iter(source.pages(None, start)))
    storm.shift(timedelta(minutes=1))

    # When the next run resumes it
    resumed, _ = read_pages(source, first.cursor, start)

    # Then X's 400 about the token was answered by asking below the chain's floor
    statuses = [exchange.status for exchange in world.exchanges_of("x")]
    assert statuses[1] == 400
    retry = _queries(world)[2]
    assert retry["until_id"] == first.cursor["chain"]["floor"]
    assert "next_token" not in retry
    ids = [m.id for m in [*first.mentions, *resumed]]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected


# --- rate limits ---------------------------------------------------------------------------


def test_a_429_is_rate_limited_until_the_announced_reset_and_the_cursor_stays(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given a chain that read one page
    start = datetime.now(UTC) - timedelta(hours=2)
    expected = {fake.mention_id(post) for post in _storm_posts(world, start)}
    source = source_of(channel_context("x", page_size=10), "search:nordwind-air")
    pages = source.pages(None, start)
    first = next(pages)

    # When X answers the next request with 429
    world.faults.arm("status:429", channel="x")
    with pytest.raises(RateLimited) as limited:
        next(pages)

    # Then the retry time is X's x-rate-limit-reset, and resuming from the last yielded
    # cursor after it reads the rest once
    reset = int(world.exchanges_of("x")[-1].response_headers["x-rate-limit-reset"])
    assert limited.value.retry_at == datetime.fromtimestamp(reset, UTC)
    storm.move_to(limited.value.retry_at)
    rest, _ = read_pages(source, first.cursor, start)
    ids = [m.id for m in [*first.mentions, *rest]]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected


def test_a_used_up_quota_yields_the_page_then_stops_before_the_next_request(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given X allows two requests per window on each endpoint
    world.channel_state("x")[fake.REQUESTS_PER_WINDOW] = 2
    context = channel_context("x", page_size=10)
    search, mentions = (
        source_of(context, "search:nordwind-air"),
        source_of(context, f"mentions:{ACCOUNT_ID}"),
    )
    pages = search.pages(None, datetime.now(UTC) - timedelta(hours=2))

    # When the source reads: the second answer says the quota is used up
    read = [next(pages), next(pages)]
    with pytest.raises(RateLimited) as limited:
        next(pages)

    # Then both pages were yielded, no third request was sent, the retry time is the reset,
    # and another endpoint (with its own quota) still answers
    assert all(page.mentions for page in read)
    assert len(world.exchanges_of("x")) == 2
    reset = int(world.exchanges_of("x")[-1].response_headers["x-rate-limit-reset"])
    assert limited.value.retry_at == datetime.fromtimestamp(reset, UTC)
    assert next(iter(mentions.pages(None, datetime.now(UTC) - timedelta(hours=1)))).mentions


# --- failures --------------------------------------------------------------------------------


def test_a_refused_token_is_auth_failed_without_the_token_in_the_message(
    channel_context: ContextFactory, storm: Any
) -> None:
    # Given a context whose secret holds a revoked token
    context = replace(channel_context("x"), credentials=lambda: {"bearer_token": "revoked-123"})

    # When a source reads
    with pytest.raises(AuthFailed) as failed:
        read_pages(x.mention_sources(context)[0], None, datetime.now(UTC) - timedelta(hours=1))

    # Then the error says 401 and does not repeat the token
    assert "401" in str(failed.value)
    assert "revoked-123" not in str(failed.value)


def test_a_secret_without_the_token_is_auth_failed_naming_the_field(
    channel_context: ContextFactory, storm: Any
) -> None:
    # Given a secret without a bearer token
    context = replace(channel_context("x"), credentials=lambda: {"api_key": "k"})

    # When a source reads
    with pytest.raises(AuthFailed, match="bearer_token"):
        read_pages(x.mention_sources(context)[0], None, datetime.now(UTC) - timedelta(hours=1))


@pytest.mark.parametrize("fault", ["bad_json", "truncated", "empty"])
def test_an_unreadable_answer_is_malformed(
    channel_context: ContextFactory, world: World, storm: Any, fault: str
) -> None:
    # Given X answers 200 with a body that is not JSON
    world.faults.arm(fault, channel="x")

    # When a source reads
    with pytest.raises(MalformedResponse):
        read_pages(x.mention_sources(channel_context("x"))[0], None, datetime.now(UTC))


def test_an_html_error_page_is_unavailable_not_parsed(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given a gateway answers with an HTML error page
    world.faults.arm("html", channel="x")
    context = replace(
        channel_context("x", page_size=10), http=HttpClient("x", timeout=5, retries=0)
    )

    # When a source reads
    with pytest.raises(ChannelUnavailable, match="502"):
        read_pages(x.mention_sources(context)[0], None, datetime.now(UTC))


@pytest.mark.parametrize(
    ("rewrite", "complaint"),
    [
        (lambda body: {key: value for key, value in body.items() if key != "meta"}, "meta"),
        (lambda body: {**body, "data": {"id": "1"}}, "'data' must be a list"),
        (lambda body: [body], "JSON object"),
        (lambda body: {**body, "meta": {"next_token": 7}}, "next_token"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_malformed_saying_what_is_wrong(
    channel_context: ContextFactory,
    world: World,
    storm: Any,
    rewrite: Callable[[Any], Any],
    complaint: str,
) -> None:
    # Given X answers JSON of the wrong shape
    world.channel_state("x")[fake.REWRITE] = rewrite

    # When a source reads
    with pytest.raises(MalformedResponse) as error:
        read_pages(x.mention_sources(channel_context("x"))[0], None, datetime.now(UTC))

    # Then the error says what is wrong
    assert complaint in str(error.value)


def test_one_bad_post_is_logged_by_id_and_skipped(
    channel_context: ContextFactory,
    world: World,
    storm: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given one post of an answer lacks its creation time
    broken: list[dict[str, Any]] = []

    def drop_created_at(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("data") and not broken:
            broken.append(body["data"][1])
            del body["data"][1]["created_at"]
        return body

    world.channel_state("x")[fake.REWRITE] = drop_created_at

    # When the source reads
    with caplog.at_level(logging.WARNING, logger="stormwatch.channels.x"):
        mentions, _ = read_pages(
            x.mention_sources(channel_context("x"))[0],
            None,
            datetime.now(UTC) - timedelta(minutes=30),
        )

    # Then the others are read, and the warning names the channel and id but not the text
    assert broken
    assert broken[0]["id"] not in {mention.id for mention in mentions}
    assert len(mentions) == len(_storm_posts(world, datetime.now(UTC) - timedelta(minutes=30))) - 1
    warning = [r for r in caplog.records if r.name == "stormwatch.channels.x"][-1].getMessage()
    assert warning.startswith("x: ")
    assert broken[0]["id"] in warning
    assert broken[0]["text"] not in warning


def test_a_page_of_only_bad_posts_does_not_end_the_chain(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given the first answer's posts are all unreadable
    def spoil_first(body: dict[str, Any]) -> dict[str, Any]:
        if len(world.exchanges_of("x")) == 0:
            body["data"] = [{"id": post["id"]} for post in body["data"]]
        return body

    world.channel_state("x")[fake.REWRITE] = spoil_first
    start = datetime.now(UTC) - timedelta(hours=2)

    # When the source reads
    mentions, cursor = read_pages(
        source_of(channel_context("x", page_size=10), "search:nordwind-air"), None, start
    )

    # Then it went on to the following pages instead of finishing the chain empty
    assert len(mentions) == len(_storm_posts(world, start)) - 10
    assert cursor is not None
    assert "chain" not in cursor


def test_a_timeout_is_channel_unavailable(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given X answers slower than the client waits
    world.faults.arm("slow:1", channel="x")
    context = replace(
        channel_context("x", page_size=10), http=HttpClient("x", timeout=0.2, retries=0)
    )

    # When a source reads
    with pytest.raises(ChannelUnavailable, match="timed out"):
        read_pages(x.mention_sources(context)[0], None, datetime.now(UTC))


def test_an_unknown_account_is_a_channel_error_from_xs_partial_errors(
    channel_context: ContextFactory, storm: Any
) -> None:
    # Given the configured account id does not exist on X
    context = channel_context("x", account_id="1500000000000000999")

    # When the mentions source reads
    with pytest.raises(ChannelError, match="Not Found Error") as error:
        read_pages(x.mention_sources(context)[-1], None, datetime.now(UTC) - timedelta(hours=1))

    # Then it is a plain channel error (not a retryable outage)
    assert type(error.value) is ChannelError


def test_partial_errors_in_a_good_answer_are_logged_and_the_posts_read(
    channel_context: ContextFactory,
    world: World,
    storm: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an answer that carries posts and a partial error about one author
    problem = {
        "title": "Authorization Error",
        "type": "https://api.x.com/2/problems/not-authorized-for-resource",
        "resource_id": "1234",
        "detail": "Sorry, you are not authorized to see the user with id: [1234].",
    }
    world.channel_state("x")[fake.REWRITE] = lambda body: {**body, "errors": [problem]}
    since = datetime.now(UTC) - timedelta(minutes=30)

    # When the source reads
    with caplog.at_level(logging.WARNING, logger="stormwatch.channels.x"):
        mentions, _ = read_pages(x.mention_sources(channel_context("x"))[0], None, since)

    # Then every post was read and the problem logged by title and resource
    assert len(mentions) == len(_storm_posts(world, since))
    logged = [r.getMessage() for r in caplog.records if r.name == "stormwatch.channels.x"]
    assert logged
    assert all("Authorization Error" in line and "1234" in line for line in logged)


def test_a_cursor_older_than_recent_search_reaches_reads_from_the_oldest_it_allows(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given a watermark from eight days ago (polling was down for a long time)
    eight_days_ago = datetime.now(UTC) - timedelta(days=8)
    millis = (eight_days_ago - fake.X_EPOCH) // timedelta(milliseconds=1)
    cursor: Cursor = {"watermark": str(millis << 22), "recent": []}

    # When the search polls from it
    list(x.mention_sources(channel_context("x"))[0].pages(cursor, eight_days_ago))

    # Then it asked from the oldest time recent search accepts instead of a refused since_id
    query = _queries(world)[0]
    assert "since_id" not in query
    oldest = datetime.now(UTC) - x.RECENT_SEARCH_REACH + timedelta(minutes=1)
    assert query["start_time"] == oldest.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert world.exchanges_of("x")[0].status == 200


# --- text --------------------------------------------------------------------------------------


def test_odd_unicode_survives_and_huge_texts_are_capped(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given posts with escaped markup characters, joiners, bidi overrides, and a huge text
    odd = "Nordwind Air &amp; &lt;3 Zürich 👨\u200d👩\u200d👧 \u202eevil\u202c e\u0301 終わり"

    def unusual_texts(body: dict[str, Any]) -> dict[str, Any]:
        for index, post in enumerate(body.get("data", [])):
            post["text"] = odd if index == 0 else "Nordwind " * 2000
        return body

    world.channel_state("x")[fake.REWRITE] = unusual_texts

    # When the source reads them
    mentions, _ = read_pages(
        x.mention_sources(channel_context("x"))[0], None, datetime.now(UTC) - timedelta(hours=1)
    )

    # Then entities are decoded, emoji joiners and scripts survive, bidi controls do not, and
    # the huge text is capped
    assert mentions[0].text == "Nordwind Air & <3 Zürich 👨\u200d👩\u200d👧 evil é 終わり"
    assert all(len(mention.text) <= MAX_TEXT_CHARS for mention in mentions)
    assert mentions[1].text.endswith("…")


def test_each_brand_search_finds_its_own_brands_posts(
    channel_context: ContextFactory, world: World, storm: Any
) -> None:
    # Given the quiet brand's search and the storm brand's search on the same endpoint
    sources = x.mention_sources(channel_context("x"))

    # When both read the last day
    since = datetime.now(UTC) - timedelta(hours=24)
    storm_ids = {m.id for m in read_pages(sources[0], None, since)[0]}
    quiet_ids = {m.id for m in read_pages(sources[1], None, since)[0]}

    # Then each found its own brand's posts
    quiet = {
        fake.mention_id(post)
        for post in world.visible_posts("x")
        if "kolibri-pay" in post.brands and post.created_at >= since
    }
    assert quiet_ids == quiet
    assert not storm_ids & quiet_ids
