"""The Reddit adapter against the fake Reddit: tokens, quota, paging, resuming, bad answers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from local.fakechannels import reddit as fake
from local.fakechannels.world import World
from local.localconfig import read_document
from local.scenario import QUIET_BRAND, Post, Scenario, build_scenario
from stormwatch.channels import reddit
from stormwatch.channels.base import Page
from stormwatch.channels.http import HttpClient
from stormwatch.config import Config
from stormwatch.errors import (
    AuthFailed,
    ChannelUnavailable,
    ConfigError,
    MalformedResponse,
    RateLimited,
)
from stormwatch.text import clean_text
from tests.conftest import ConfigFactory, ContextFactory
from tests.helpers import context_for, read_pages, source_of


@pytest.fixture(scope="module")
def small_scenario() -> Scenario:
    """reddit alone at a third of the demo's volume: enough posts for several pages per source."""
    return build_scenario(volume=0.3, seed=11, channels=("reddit",))


@pytest.fixture(autouse=True)
def _no_cached_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts like a fresh Lambda container: no token cached yet."""
    monkeypatch.setattr(reddit, "_TOKENS", {})


def _links(scenario: Scenario, *, brand_named: str | None = None) -> dict[str, Post]:
    return {
        fake.mention_id(post): post
        for post in scenario.channel_posts("reddit")
        if post.kind == "link" and (brand_named is None or brand_named in post.brands)
    }


def _storm_links(scenario: Scenario) -> set[str]:
    """What the Nordwind search finds: every link but those about the quiet brand."""
    return {
        mention_id
        for mention_id, post in _links(scenario).items()
        if QUIET_BRAND not in post.brands
    }


def _comments(scenario: Scenario, subreddit: str) -> dict[str, Post]:
    return {
        fake.mention_id(post): post
        for post in scenario.channel_posts("reddit")
        if post.kind == "comment" and fake.subreddit_of(post) == subreddit
    }


def _window_end(moment: datetime) -> datetime:
    seconds = moment.timestamp()
    return datetime.fromtimestamp(seconds - seconds % 600 + 600, UTC)


# --- sources and normalisation -----------------------------------------------------------


def test_one_search_per_brand_and_one_comment_listing_per_subreddit(
    channel_context: ContextFactory,
) -> None:
    # Given the example config (two brands, subreddits de and travel)
    # When the sources are listed
    keys = [source.key for source in reddit.mention_sources(channel_context("reddit"))]

    # Then each has a stable key of its own
    assert keys == ["search:nordwind-air", "search:kolibri-pay", "comments:de", "comments:travel"]


def test_search_reads_links_as_mentions_with_permalink_author_and_score(
    channel_context: ContextFactory, small_scenario: Scenario, now: datetime, start: datetime
) -> None:
    # Given every link of the scenario is visible
    source = source_of(channel_context("reddit"), "search:nordwind-air")

    # When the Nordwind search reads everything since the start
    mentions, _ = read_pages(source, None, start)

    # Then it found every link naming Nordwind, once, normalised from the listing
    assert mentions
    assert sorted(m.id for m in mentions) == sorted(_storm_links(small_scenario))
    posts = _links(small_scenario)
    for mention in mentions:
        post = posts[mention.id]
        assert mention.url.startswith(f"https://www.reddit.com/r/{fake.subreddit_of(post)}/")
        assert mention.author == post.author
        assert mention.text == clean_text(post.text)
        assert mention.created_at == post.created_at
        assert (mention.reach, mention.engagement) == (post.reach, post.engagement)
        assert mention.language is None


def test_subreddit_comments_are_kept_only_when_they_name_a_brand(
    channel_context: ContextFactory,
    config_for: ConfigFactory,
    small_scenario: Scenario,
    now: datetime,
    start: datetime,
) -> None:
    # Given only Kolibri Pay is configured, while r/de discusses Nordwind Air as well
    kolibri_pay = [brand for brand in read_document()["brands"] if brand["id"] == "kolibri-pay"]
    config = config_for("reddit", brands=kolibri_pay)
    source = source_of(channel_context("reddit", config=config), "comments:de")
    in_de = _comments(small_scenario, "de")

    # When the new comments of r/de are read
    mentions, _ = read_pages(source, None, start)

    # Then only comments naming Kolibri Pay are handed on
    wanted = {mid for mid, post in in_de.items() if QUIET_BRAND in post.brands}
    assert {m.id for m in mentions} == wanted
    assert len(wanted) < len(in_de)


# --- paging and resuming ----------------------------------------------------------------


def test_pages_follow_the_after_fullname_and_read_each_link_once(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    now: datetime,
    start: datetime,
) -> None:
    # Given pages of three things
    source = source_of(channel_context("reddit", page_size=3), "search:nordwind-air")

    # When the search reads everything
    pages = list(source.pages(None, start))

    # Then it took several pages, each request after the first naming the last fullname seen
    searches = [e for e in world.exchanges_of("reddit") if e.path == "/search"]
    assert len(pages) == len(searches) > 2
    afters = [dict(e.query).get("after") for e in searches]
    assert afters[0] is None
    assert all(after and after.startswith("t3_") for after in afters[1:])
    ids = [m.id for page in pages for m in page.mentions]
    assert sorted(ids) == sorted(_storm_links(small_scenario))


def test_a_run_cut_short_resumes_its_chain_and_then_reads_what_arrived_meanwhile(
    channel_context: ContextFactory,
    config_for: ConfigFactory,
    small_scenario: Scenario,
    start: datetime,
) -> None:
    config = config_for("reddit", page_size=2)
    links = _storm_links(small_scenario)
    newest = max(_links(small_scenario)[mid].created_at for mid in links)
    with time_machine.travel(newest - timedelta(hours=3), tick=False) as clock:
        # Given a run that stopped after its first page, three hours before the last link
        source = source_of(channel_context("reddit", config=config), "search:nordwind-air")
        first = next(iter(source.pages(None, start)))

        # When the next runs come when everything is visible, from the committed cursor
        clock.move_to(small_scenario.end)
        resumed, cursor = read_pages(source, first.cursor, start)
        later, _ = read_pages(source, cursor, start)

    # Then the old chain is finished first, the newer links follow, and nothing twice
    ids = [m.id for m in first.mentions] + [m.id for m in resumed] + [m.id for m in later]
    assert sorted(ids) == sorted(links)
    assert later
    assert min(m.created_at for m in later) > max(m.created_at for m in first.mentions)


def test_an_after_that_reddit_no_longer_knows_resumes_below_the_chain_floor(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    now: datetime,
    start: datetime,
) -> None:
    # Given a cursor whose page token names a link that was removed meanwhile
    source = source_of(channel_context("reddit", page_size=3), "search:nordwind-air")
    first = next(iter(source.pages(None, start)))
    cursor = {**first.cursor, "chain": {**first.cursor["chain"], "token": "t3_zzzzzzz"}}

    # When the chain is resumed
    rest, _ = read_pages(source, cursor, start)

    # Then everything below the first page is still read
    read = {m.id for m in first.mentions} | {m.id for m in rest}
    assert read == _storm_links(small_scenario)


# --- rate limits --------------------------------------------------------------------------


def test_a_used_up_quota_yields_the_page_then_stops_until_the_window_resets(
    channel_context: ContextFactory,
    config_for: ConfigFactory,
    small_scenario: Scenario,
    world: World,
    start: datetime,
) -> None:
    config = config_for("reddit", page_size=3)
    moment = small_scenario.end + timedelta(minutes=5)
    with time_machine.travel(moment, tick=False) as clock:
        # Given the window allows a single API request
        fake.set_request_budget(world, 1)
        sources = reddit.mention_sources(channel_context("reddit", config=config))
        search = sources[0]
        pages = search.pages(None, start)

        # When the search reads its first page and asks for the next
        first: Page = next(pages)
        requests_so_far = len(world.exchanges_of("reddit"))
        with pytest.raises(RateLimited) as stopped:
            next(pages)
        with pytest.raises(RateLimited):
            next(iter(sources[2].pages(None, start)))

        # Then the page came, the stop lasts until the window resets, no request was spent on
        # it, and the other sources of this run wait too
        assert first.mentions
        assert stopped.value.retry_at == _window_end(moment)
        assert len(world.exchanges_of("reddit")) == requests_so_far

        # And once the window has passed, the committed cursor resumes without a gap
        clock.move_to(stopped.value.retry_at)
        fake.set_request_budget(world, 1000)
        sources = reddit.mention_sources(channel_context("reddit", config=config))
        rest, _ = read_pages(sources[0], first.cursor, start)
    ids = [m.id for m in first.mentions] + [m.id for m in rest]
    assert first.mentions
    assert rest
    assert sorted(ids) == sorted(_storm_links(small_scenario))


def test_a_429_raises_rate_limited_at_the_announced_reset_before_any_page(
    channel_context: ContextFactory, world: World, now: datetime, start: datetime
) -> None:
    # Given Reddit answers the next request with 429
    world.faults.arm("status:429", channel="reddit", path_contains="/search")
    source = source_of(channel_context("reddit"), "search:nordwind-air")

    # When the search starts
    pages = source.pages(None, start)

    # Then no page is given and the source may retry when Reddit's window resets
    with pytest.raises(RateLimited) as stopped:
        next(pages)
    assert stopped.value.retry_at == _window_end(now)


# --- auth -------------------------------------------------------------------------------


def test_one_token_serves_every_source_and_is_renewed_once_when_revoked(
    channel_context: ContextFactory, world: World, now: datetime, start: datetime
) -> None:
    # Given all sources have read once with one token
    context = channel_context("reddit")
    for source in reddit.mention_sources(context):
        read_pages(source, None, start)
    token_requests = [e for e in world.exchanges_of("reddit") if e.path == "/api/v1/access_token"]
    assert len(token_requests) == 1

    # When Reddit revokes the token and the search reads again
    fake.revoke_tokens(world)
    mentions, _ = read_pages(source_of(context, "search:nordwind-air"), None, start)

    # Then a new token was fetched after the 401 and the search went on
    tail = [(e.path, e.status) for e in world.exchanges_of("reddit")][-3:]
    assert tail == [("/search", 401), ("/api/v1/access_token", 200), ("/search", 200)]
    assert mentions


def test_refused_credentials_raise_auth_failed_and_never_show_the_secret(
    local_config: Config,
    now: datetime,
    start: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a secret Reddit does not accept
    secret = "not-the-right-secret-4711"
    context = context_for(
        local_config,
        "reddit",
        lambda: {"client_id": fake.CREDENTIALS["client_id"], "client_secret": secret},
        http=HttpClient("reddit", timeout=5),
    )
    caplog.set_level(logging.DEBUG)

    # When the search starts
    with pytest.raises(AuthFailed) as refused:
        next(iter(source_of(context, "search:nordwind-air").pages(None, start)))

    # Then the error says what failed, and neither it nor any log line holds the secret
    assert "401" in str(refused.value)
    assert secret not in str(refused.value)
    assert secret not in caplog.text


def test_a_secret_without_client_secret_is_an_auth_failure_naming_the_field(
    local_config: Config, now: datetime, start: datetime
) -> None:
    # Given a secret that lacks the client secret
    context = context_for(
        local_config,
        "reddit",
        lambda: {"client_id": "someone"},
        http=HttpClient("reddit", timeout=5),
    )

    # When the search starts / Then the operator is told which field is missing
    with pytest.raises(AuthFailed, match="client_secret"):
        next(iter(source_of(context, "search:nordwind-air").pages(None, start)))


# --- bad answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arm", "error"),
    [
        (lambda world: world.faults.arm("bad_json", channel="reddit"), MalformedResponse),
        (lambda world: world.faults.arm("truncated", channel="reddit"), MalformedResponse),
        (lambda world: world.faults.arm("empty", channel="reddit"), MalformedResponse),
        (lambda world: fake.arm_fault(world, "no_children"), MalformedResponse),
        (lambda world: world.faults.arm("html", channel="reddit", times=2), ChannelUnavailable),
        (
            lambda world: world.faults.arm("status:500", channel="reddit", times=2),
            ChannelUnavailable,
        ),
    ],
    ids=["bad-json", "truncated", "empty", "listing-without-children", "html-502", "500"],
)
def test_an_answer_that_is_not_a_listing_is_an_error_and_yields_nothing(
    arm: Callable[[World], None],
    error: type[Exception],
    channel_context: ContextFactory,
    world: World,
    now: datetime,
    start: datetime,
) -> None:
    # Given the token is fetched, and the next listing answer is broken
    context = channel_context("reddit")
    reddit._RedditApi(context)._token()
    arm(world)

    # When the search reads / Then the failure is typed and no page was yielded
    with pytest.raises(error):
        next(iter(source_of(context, "search:nordwind-air").pages(None, start)))


def test_one_unreadable_item_is_logged_by_fullname_and_skipped(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    now: datetime,
    start: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the first link of the next listing comes without its author
    fake.arm_fault(world, "item_without_author")
    links = _links(small_scenario)
    newest = max(_storm_links(small_scenario), key=lambda mid: links[mid].created_at)
    caplog.set_level(logging.WARNING, logger="stormwatch.channels.reddit")

    # When the search reads everything
    mentions, _ = read_pages(
        source_of(channel_context("reddit"), "search:nordwind-air"), None, start
    )

    # Then the others are read, and the warning names the channel and the item, not its text
    assert {m.id for m in mentions} == _storm_links(small_scenario) - {newest}
    assert "reddit" in caplog.text
    assert newest in caplog.text
    assert clean_text(links[newest].text) not in caplog.text


def test_a_page_of_nothing_but_unreadable_items_neither_ends_nor_blocks_the_chain(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    now: datetime,
    start: datetime,
) -> None:
    # Given pages of one link, the first of which cannot be read
    fake.arm_fault(world, "item_without_author")
    source = source_of(channel_context("reddit", page_size=1), "search:nordwind-air")

    # When the search reads everything
    pages = list(source.pages(None, start))

    # Then the first page is empty, and the walk went on to every other link
    assert pages[0].mentions == []
    read = {m.id for page in pages for m in page.mentions}
    assert len(read) == len(_storm_links(small_scenario)) - 1


def test_a_reddit_that_does_not_answer_in_time_is_unavailable(
    local_config: Config, world: World, now: datetime, start: datetime
) -> None:
    # Given Reddit takes a second and the client waits a fifth of one
    reddit_context = context_for(
        local_config,
        "reddit",
        lambda: world.credentials["reddit"],
        http=HttpClient("reddit", timeout=0.2, retries=0),
    )
    world.faults.arm("slow:1", channel="reddit", path_contains="/search")

    # When the search starts / Then it gives up as unavailable
    with pytest.raises(ChannelUnavailable, match="timed out"):
        next(iter(source_of(reddit_context, "search:nordwind-air").pages(None, start)))


def test_a_subreddit_name_that_cannot_exist_is_a_config_error_naming_the_entry(
    channel_context: ContextFactory, config_for: ConfigFactory
) -> None:
    # Given a subreddit entry with a space in it
    config = config_for("reddit", subreddits=["de", "r/travel", "not a sub"])

    # When the sources are built / Then the error names the entry
    with pytest.raises(ConfigError, match=r"channels\.reddit\.subreddits\[2\]"):
        reddit.mention_sources(channel_context("reddit", config=config))
