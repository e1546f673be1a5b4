"""Account and tag lookups on every publishing channel, against the channels' fakes: found
(with the display name), not found, not checked, and every way a channel can fail, each
turned into a result that says what happened instead of an exception."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from local.fakechannels import mastodon as mastodon_fake
from local.fakechannels import x as x_fake
from local.fakechannels.lookup import mastodon as mastodon_lookup_fake
from local.fakechannels.world import World
from stormwatch.channels import bluesky
from stormwatch.channels.http import HttpClient
from stormwatch.channels.lookup import AccountLookup, lookup_for
from stormwatch.channels.lookup.mastodon import instance_limits
from stormwatch.config import Config
from tests.conftest import ContextFactory
from tests.helpers import context_for

# What each channel calls the lookup request, to aim faults at it (not at a session).
LOOKUP_PATHS = {
    "x": "/2/users/by/username/",
    "mastodon": "/api/v1/accounts/lookup",
    "bluesky": "resolveHandle",
    "facebook": "/nordwindair",
    "linkedin": "/rest/organizations",
    "instagram": "/17841400000000001",
}
BRAND_HANDLES = {
    "x": "@nordwindair",
    "mastodon": "@nordwindair",
    "bluesky": "@nordwindair.bsky.social",
    "facebook": "@nordwindair",
    "linkedin": "nordwindair",
    "instagram": "@nordwindair",
}


@pytest.fixture(autouse=True)
def _bluesky_sessions_of_this_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bluesky, "_ACCOUNTS", {})


@pytest.fixture
def lookup(channel_context: ContextFactory) -> Callable[[str], AccountLookup]:
    """The lookup of a channel, on the fake server with the example configuration."""

    def make(channel: str) -> AccountLookup:
        return lookup_for(channel, channel_context(channel))

    return make


def _sent(world: World, channel: str, path_part: str) -> int:
    return sum(1 for e in world.exchanges_of(channel) if path_part in e.path)


# --- found ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "handle", "display_name", "account_id", "url"),
    [
        ("x", "@NordwindAir", "Nordwind Air", "1500000000000000001", "https://x.com/nordwindair"),
        ("x", "travelmike", "Mike T.", None, "https://x.com/travelmike"),
        ("mastodon", "@anna_k", "Anna Krüger", None, "https://mastodon.example/@anna_k"),
        (
            "mastodon",
            "@nordwindair@mastodon.example",
            "Nordwind Air",
            None,
            "https://mastodon.example/@nordwindair",
        ),
        (
            "bluesky",
            "@hamburg-news.bsky.social",
            "Hamburg Aktuell",
            None,
            "https://bsky.app/profile/hamburg-news.bsky.social",
        ),
        (
            "facebook",
            "@kolibripay",
            "Kolibri Pay",
            "100012345678902",
            "https://www.facebook.com/kolibripay",
        ),
        (
            "linkedin",
            "NordwindAir",
            "Nordwind Air",
            "urn:li:organization:2414183",
            "https://www.linkedin.com/company/nordwindair/",
        ),
        (
            "instagram",
            "@kolibripay",
            "Kolibri Pay",
            "17841400000000102",
            "https://www.instagram.com/kolibripay/",
        ),
    ],
)
def test_given_a_known_account_when_looked_up_then_found_with_its_display_name(
    lookup: Any,
    channel: str,
    handle: str,
    display_name: str,
    account_id: str | None,
    url: str,
) -> None:
    match = lookup(channel).lookup_account(handle)

    assert match.outcome == "found"
    assert match.found
    assert match.channel == channel
    assert match.handle == handle
    assert match.display_name == display_name
    assert match.url == url
    assert match.account_id
    if account_id is not None:
        assert match.account_id == account_id
    assert repr(display_name) in match.message


def test_given_a_bluesky_handle_then_the_did_it_resolves_to_is_the_account_id(
    lookup: Any,
) -> None:
    from local.fakechannels.bluesky import did_of

    match = lookup("bluesky").lookup_account("nordwindair.bsky.social")

    assert match.account_id == did_of("nordwindair.bsky.social")


# --- not found -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "handle", "message"),
    [
        ("x", "@nordwind_air", "no X account is called @nordwind_air"),
        ("mastodon", "@nordwind_air", "no Mastodon account @nordwind_air is known"),
        ("mastodon", "@nordwindair@other.example", "no Mastodon account"),
        ("bluesky", "@nordwind.bsky.social", "no Bluesky account has @nordwind.bsky.social"),
        (
            "bluesky",
            "@nordwind-old.bsky.social",
            "@nordwind-old.bsky.social is stale: its account now calls itself "
            "@nordwindair.bsky.social",
        ),
        ("facebook", "@nordwind.air", "no Facebook Page @nordwind.air is visible"),
        ("facebook", "@travelmike", "no Facebook Page @travelmike is visible"),
        ("linkedin", "nordwind-air", "no LinkedIn organization has the vanity name"),
        ("linkedin", "anna_k", "no LinkedIn organization has the vanity name"),
        ("instagram", "@travelmike", "personal accounts cannot be looked up"),
    ],
)
def test_given_an_unknown_account_when_looked_up_then_not_found_with_a_clear_message(
    lookup: Any, channel: str, handle: str, message: str
) -> None:
    match = lookup(channel).lookup_account(handle)

    assert match.outcome == "not_found"
    assert not match.found
    assert match.display_name is None
    assert message in match.message


@pytest.mark.parametrize(
    ("channel", "handle"),
    [
        ("x", "@much_too_long_username"),
        ("x", "@../2/tweets"),
        ("mastodon", "@anna k"),
        ("mastodon", "@x?acct=other"),
        ("bluesky", "@nordwindair"),
        ("bluesky", "@-bad-.bsky.social"),
        ("facebook", "@a/b"),
        ("linkedin", "nordwind air"),
        ("instagram", "@nordwind air"),
        ("instagram", "@x){id}"),
    ],
)
def test_given_a_handle_the_channel_cannot_have_when_looked_up_then_not_found_without_asking(
    lookup: Any, world: World, channel: str, handle: str
) -> None:
    match = lookup(channel).lookup_account(handle)

    assert match.outcome == "not_found"
    assert " is no " in match.message
    assert world.exchanges_of(channel) == []


# --- tags ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "tag", "counted"),
    [
        ("x", "#NordwindAir", True),
        ("mastodon", "#NordwindAir", True),
        ("bluesky", "NordwindAir", True),
        ("instagram", "#NordwindAir", False),
    ],
)
def test_given_a_tag_in_use_when_looked_up_then_found(
    lookup: Any, now: datetime, channel: str, tag: str, counted: bool
) -> None:
    match = lookup(channel).lookup_tag(tag)

    assert match.outcome == "found"
    assert match.found
    assert match.tag.casefold() == "nordwindair"
    assert match.url
    if counted:
        assert match.uses is not None
        assert match.uses > 0
    else:
        assert match.uses is None


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("x", "nobody has used #SturmOhneNamen on X in the last 7 days"),
        ("mastodon", "#SturmOhneNamen is unknown on the instance: nobody has used it yet"),
        ("bluesky", "nobody has used #SturmOhneNamen on Bluesky"),
        ("instagram", "Instagram knows no hashtag #SturmOhneNamen"),
    ],
)
def test_given_a_tag_nobody_used_when_looked_up_then_not_found_saying_so(
    lookup: Any, now: datetime, channel: str, message: str
) -> None:
    match = lookup(channel).lookup_tag("#SturmOhneNamen")

    assert match.outcome == "not_found"
    assert not match.found
    assert match.uses in (0, None)
    assert match.message == message


@pytest.mark.parametrize("channel", ["facebook", "linkedin"])
def test_given_a_channel_without_a_hashtag_api_then_the_tag_is_not_checked_never_found(
    lookup: Any, world: World, channel: str
) -> None:
    match = lookup(channel).lookup_tag("#NordwindAir")

    assert match.outcome == "not_checked"
    assert not match.found
    assert match.uses is None
    assert match.message.startswith("not checked: ")
    assert world.exchanges_of(channel) == []


def test_given_a_mastodon_tag_then_uses_are_the_weeks_history(
    lookup: Any, world: World, now: datetime
) -> None:
    from local.fakechannels.mastodon import _hashtags

    used = sum(
        1
        for post in world.visible_posts("mastodon")
        if "nordwindair" in _hashtags(post.text) and (now - post.created_at).days < 6
    )

    match = lookup("mastodon").lookup_tag("nordwindair")

    assert match.uses == used
    assert f"{used} use" in match.message


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", sorted(LOOKUP_PATHS))
def test_given_a_rate_limited_channel_when_looked_up_then_failed_saying_when_to_retry(
    lookup: Any, world: World, channel: str
) -> None:
    # Given the channel answers the lookup with its own 429 (and rate-limit headers)
    world.faults.arm("status:429", channel=channel, path_contains=LOOKUP_PATHS[channel])

    # When the brand's account is looked up
    match = lookup(channel).lookup_account(BRAND_HANDLES[channel])

    # Then the result says it was rate limited and until when, and nothing was raised
    assert match.outcome == "failed"
    assert not match.found
    assert match.retry_at is not None
    assert match.retry_at > datetime.now(UTC)
    assert "rate limited, retry after " in match.message
    assert match.retry_at.strftime("%H:%M:%S UTC") in match.message


@pytest.mark.parametrize("channel", sorted(LOOKUP_PATHS))
def test_given_a_channel_failing_with_5xx_when_looked_up_then_failed_after_one_retry(
    lookup: Any, world: World, channel: str
) -> None:
    world.faults.arm("status:503", channel=channel, path_contains=LOOKUP_PATHS[channel], times=2)

    match = lookup(channel).lookup_account(BRAND_HANDLES[channel])

    assert match.outcome == "failed"
    assert "did not answer: " in match.message
    assert _sent(world, channel, LOOKUP_PATHS[channel]) == 2


@pytest.mark.parametrize("fault", ["bad_json", "html200", "truncated", "empty"])
@pytest.mark.parametrize("channel", sorted(LOOKUP_PATHS))
def test_given_an_unreadable_answer_when_looked_up_then_failed_as_unreadable(
    lookup: Any, world: World, channel: str, fault: str
) -> None:
    world.faults.arm(fault, channel=channel, path_contains=LOOKUP_PATHS[channel])

    match = lookup(channel).lookup_account(BRAND_HANDLES[channel])

    assert match.outcome == "failed"
    assert "unreadable answer: " in match.message


@pytest.mark.parametrize(
    ("channel", "rewrite"),
    [
        ("x", lambda body: {"data": {"id": "1"}}),
        ("x", lambda body: {"data": "nordwindair"}),
        ("x", lambda body: {}),
        ("mastodon", lambda body: {**body, "display_name": None}),
        ("mastodon", lambda body: [body]),
    ],
)
def test_given_json_of_the_wrong_shape_when_looked_up_then_failed_as_unreadable(
    lookup: Any, world: World, channel: str, rewrite: Any
) -> None:
    knob = x_fake.REWRITE if channel == "x" else mastodon_fake.REWRITE
    world.channel_state(channel)[knob] = rewrite

    match = lookup(channel).lookup_account(BRAND_HANDLES[channel])

    assert match.outcome == "failed"
    assert "unreadable answer: " in match.message


def test_given_a_slow_channel_when_looked_up_then_failed_as_not_answering(
    local_config: Config, world: World
) -> None:
    world.faults.arm("slow:1", channel="x", path_contains=LOOKUP_PATHS["x"])
    context = context_for(
        local_config,
        "x",
        lambda: world.credentials["x"],
        http=HttpClient("x", timeout=0.2, retries=0),
    )

    match = lookup_for("x", context).lookup_account("@nordwindair")

    assert match.outcome == "failed"
    assert "did not answer: GET " in match.message
    assert "timed out" in match.message


def test_given_refused_credentials_when_looked_up_then_failed_for_an_operator(
    local_config: Config,
) -> None:
    # Given a secret whose token the channel does not accept
    context = context_for(local_config, "x", lambda: {"bearer_token": "another-token"})

    match = lookup_for("x", context).lookup_account("@nordwindair")

    assert match.outcome == "failed"
    assert "credentials refused, an operator must fix them" in match.message
    assert "another-token" not in match.message


def test_given_the_quota_used_up_by_one_lookup_then_the_next_is_not_sent(
    lookup: Any, world: World
) -> None:
    world.channel_state("x")[x_fake.REQUESTS_PER_WINDOW] = 1
    x_lookup = lookup("x")

    first = x_lookup.lookup_account("@nordwindair")
    second = x_lookup.lookup_account("@kolibripay")

    assert first.outcome == "found"
    assert second.outcome == "failed"
    assert "rate limited, retry after" in second.message
    assert _sent(world, "x", LOOKUP_PATHS["x"]) == 1


def test_given_a_rate_limited_tag_search_then_the_tag_result_says_so(
    lookup: Any, world: World
) -> None:
    world.faults.arm("status:429", channel="bluesky", path_contains="searchPosts")

    match = lookup("bluesky").lookup_tag("#NordwindAir")

    assert match.outcome == "failed"
    assert match.retry_at is not None
    assert match.message.startswith("could not look up #NordwindAir: rate limited, retry after")


# --- Mastodon's status limits -----------------------------------------------------------------


def _limits(channel_context: ContextFactory) -> Any:
    return instance_limits(channel_context("mastodon"))


def test_given_the_default_instance_then_500_characters_and_23_per_link(
    channel_context: ContextFactory,
) -> None:
    limits = _limits(channel_context)

    assert (limits.max_characters, limits.url_characters, limits.warning) == (500, 23, None)


def test_given_an_instance_with_a_higher_limit_then_that_limit(
    channel_context: ContextFactory, world: World
) -> None:
    world.channel_state("mastodon")[mastodon_lookup_fake.MAX_CHARACTERS] = 5000

    limits = _limits(channel_context)

    assert (limits.max_characters, limits.url_characters, limits.warning) == (5000, 23, None)


@pytest.mark.parametrize(
    ("prepare", "reason"),
    [
        (lambda world: world.channel_state("mastodon").update(max_characters="500"), "unreadable"),
        (lambda world: world.channel_state("mastodon").update(max_characters=0), "unreadable"),
        (
            lambda world: world.channel_state("mastodon").update(
                {
                    mastodon_fake.REWRITE: lambda body: {
                        k: v for k, v in body.items() if k != "configuration"
                    }
                }
            ),
            "unreadable",
        ),
        (
            lambda world: world.faults.arm(
                "status:503", channel="mastodon", path_contains="/instance", times=2
            ),
            "did not answer",
        ),
        (
            lambda world: world.faults.arm(
                "status:429", channel="mastodon", path_contains="/instance"
            ),
            "rate limited",
        ),
    ],
)
def test_given_no_readable_instance_limits_then_mastodons_defaults_with_a_warning(
    channel_context: ContextFactory, world: World, prepare: Any, reason: str
) -> None:
    prepare(world)

    limits = _limits(channel_context)

    assert (limits.max_characters, limits.url_characters) == (500, 23)
    assert limits.warning is not None
    assert limits.warning.startswith(f"the instance's status limits are unknown ({reason}")
    assert "Mastodon's defaults of 500 characters, 23 per link" in limits.warning


def test_given_a_channel_that_cannot_be_posted_on_then_there_is_no_lookup(
    channel_context: ContextFactory,
) -> None:
    with pytest.raises(ValueError, match="no account lookup for channel 'reddit'"):
        lookup_for("reddit", channel_context("reddit"))


def test_given_a_bluesky_account_without_a_display_name_then_its_handle_is_shown(
    lookup: Any, world: World
) -> None:
    # Given an account the fake resolves (as the publisher's mentions need) with no name set
    world.channel_state("bluesky")["known_handles"] = ["ohne-namen.bsky.social"]

    match = lookup("bluesky").lookup_account("@ohne-namen.bsky.social")

    assert match.outcome == "found"
    assert match.display_name == "ohne-namen.bsky.social"
