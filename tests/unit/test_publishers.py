"""The publishers against the fake channels: request shapes, facets at UTF-8 byte offsets,
and how each failure is classified - refused (nothing posted) or ambiguous (look first)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from local.fakechannels.publishing import AFTER_STORE, PUBLISHED
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import World
from stormwatch.channels.bluesky import _ACCOUNTS
from stormwatch.channels.http import HttpClient
from stormwatch.channels.linkedin import escape_little_text
from stormwatch.channels.publishers import (
    OutcomeUnknown,
    PublishFailed,
    PublishIntent,
    publisher_for,
)
from stormwatch.channels.publishers.base import Publisher, text_hash
from stormwatch.channels.publishers.bluesky import facet_spans, record_key, tid
from tests.helpers import context_for, example_config

SINCE = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

CLIENT_TIMEOUT = 1.0
"""Ordinary answers come well within it on a loaded 2-core machine; the slow faults answer
after twice it."""


@pytest.fixture(autouse=True)
def _fresh_bluesky_sessions() -> None:
    _ACCOUNTS.clear()


def _intent(channel: str, text: str, **changes: Any) -> PublishIntent:
    values: dict[str, Any] = {
        "statement_id": "s1",
        "channel": channel,
        "text_hash": text_hash(text),
        "attempt": 1,
        "since": datetime.now(UTC).replace(microsecond=0),
        "image_url": "https://cdn.example/card.png",
    }
    values.update(changes)
    return PublishIntent(**values)


def _publisher(server: FakeChannelServer, world: World, channel: str, **secret: str) -> Publisher:
    config = example_config(server.channel_url)
    context = context_for(
        config,
        channel,
        lambda: {**world.credentials[channel], **secret},
        http=HttpClient(channel, timeout=CLIENT_TIMEOUT),
    )
    return publisher_for(channel, context, language="de")


# --- facets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Info: https://nordwind.example/a.", [("link", "https://nordwind.example/a", 6, 32)]),
        ("Grüße #Nordwind", [("tag", "Nordwind", 8, 17)]),
        ("🙏 @anna.bsky.social", [("mention", "anna.bsky.social", 5, 22)]),
        ("航班延误 #航班 ok", [("tag", "航班", 13, 20)]),
        ("x https://a.example/#frag y", [("link", "https://a.example/#frag", 2, 25)]),
        ("mail a@b.example #1 and #a1", [("tag", "a1", 24, 27)]),
    ],
)
def test_given_text_with_links_mentions_tags_then_facets_sit_at_utf8_byte_offsets(
    text: str, expected: list[tuple[str, str, int, int]]
) -> None:
    spans = facet_spans(text)
    assert [(s.kind, s.value, s.byte_start, s.byte_end) for s in spans] == expected
    encoded = text.encode()
    for span in spans:
        covered = encoded[span.byte_start : span.byte_end].decode()
        assert (
            covered.lstrip("#@").lower().startswith(span.value.lower()[:3]) or span.kind == "link"
        )


def test_given_one_publication_then_its_record_key_is_a_stable_tid() -> None:
    intent = _intent("bluesky", "text", since=SINCE)
    assert record_key(intent) == record_key(_intent("bluesky", "text", since=SINCE, attempt=3))
    assert record_key(intent) != record_key(_intent("bluesky", "other", since=SINCE))
    assert len(tid(SINCE, 0)) == 13
    assert tid(SINCE, 0) < tid(SINCE.replace(second=1), 0)


def test_given_reserved_characters_then_little_text_escapes_each() -> None:
    assert escape_little_text("Hi @all (#1) *now*") == r"Hi \@all \(\#1\) \*now\*"


# --- publishing -----------------------------------------------------------------------------


def test_given_bluesky_when_published_then_the_record_has_facets_with_the_mentioned_did(
    fake_server: FakeChannelServer, world: World
) -> None:
    text = "Grüße 🙏 @anna.bsky.social #Nordwind https://nordwind.example/x @nobody.example.org"
    post = _publisher(fake_server, world, "bluesky").publish(text, _intent("bluesky", text))

    (exchange,) = [e for e in world.exchanges if e.path.endswith("createRecord")]
    body = json.loads(exchange.body)
    record = body["record"]
    assert body["repo"].startswith("did:")
    assert body["rkey"] in post.post_id
    assert record["text"] == text
    assert record["langs"] == ["de"]
    kinds = [f["features"][0]["$type"].rsplit("#", 1)[1] for f in record["facets"]]
    assert kinds == ["mention", "tag", "link"]  # the unresolvable handle stays plain
    encoded = text.encode()
    mention = record["facets"][0]["index"]
    assert encoded[mention["byteStart"] : mention["byteEnd"]].decode() == "@anna.bsky.social"


def test_given_a_lost_bluesky_answer_when_published_again_then_the_same_record_is_returned(
    fake_server: FakeChannelServer, world: World
) -> None:
    text = "Wir sind für Sie da."
    intent = _intent("bluesky", text)
    world.channel_state("bluesky")[AFTER_STORE] = ["status:502"]
    publisher = _publisher(fake_server, world, "bluesky")
    with pytest.raises(OutcomeUnknown):
        publisher.publish(text, intent)
    again = publisher.publish(text, intent)
    assert again.post_id.endswith(record_key(intent))
    assert len(world.channel_state("bluesky")[PUBLISHED]) == 1


def test_given_mastodon_idempotency_key_when_sent_twice_then_one_status(
    fake_server: FakeChannelServer, world: World
) -> None:
    text = "Update folgt um 15:00."
    intent = _intent("mastodon", text)
    publisher = _publisher(fake_server, world, "mastodon")
    first, second = publisher.publish(text, intent), publisher.publish(text, intent)
    assert first == second
    keys = {e.headers.get("Idempotency-Key") for e in world.exchanges if e.method == "POST"}
    assert keys == {intent.key}
    assert publisher.find(text, intent) == first


def test_given_x_duplicate_refusal_when_our_post_exists_then_it_is_found(
    fake_server: FakeChannelServer, world: World
) -> None:
    text = "Flug NW 1234 & NW 1235: <Update> folgt."
    intent = _intent("x", text)
    publisher = _publisher(fake_server, world, "x")
    first = publisher.publish(text, intent)
    assert publisher.publish(text, intent) == first  # 403 duplicate, then found
    posted = [e for e in world.exchanges if e.method == "POST"]
    assert [e.status for e in posted] == [201, 403]
    assert json.loads(posted[0].body) == {"text": text}


def test_given_x_duplicate_of_an_older_post_then_refused_not_retryable(
    fake_server: FakeChannelServer, world: World
) -> None:
    world.channel_state("x")[PUBLISHED] = [
        {"id": "1", "text": "Alt.", "created_at": datetime(2020, 1, 1, tzinfo=UTC)}
    ]
    with pytest.raises(PublishFailed) as refused:
        _publisher(fake_server, world, "x").publish("Alt.", _intent("x", "Alt."))
    assert not refused.value.retryable


@pytest.mark.parametrize("channel", ["x", "mastodon", "facebook", "linkedin", "instagram"])
def test_given_a_429_when_publishing_then_refused_and_retryable(
    fake_server: FakeChannelServer, world: World, channel: str
) -> None:
    world.faults.arm("status:429", channel=channel)
    with pytest.raises(PublishFailed) as refused:
        _publisher(fake_server, world, channel).publish("Text.", _intent(channel, "Text."))
    assert refused.value.retryable
    assert not world.channel_state(channel).get(PUBLISHED)


@pytest.mark.parametrize("channel", ["x", "mastodon", "bluesky", "facebook", "linkedin"])
def test_given_a_timeout_after_the_store_then_the_outcome_is_unknown_and_find_sees_it(
    fake_server: FakeChannelServer, world: World, channel: str
) -> None:
    text = f"Zeitüberschreitung auf {channel}."
    intent = _intent(channel, text)
    world.channel_state(channel)[AFTER_STORE] = [f"slow:{CLIENT_TIMEOUT * 2}"]
    publisher = _publisher(fake_server, world, channel)
    with pytest.raises(OutcomeUnknown):
        publisher.publish(text, intent)
    found = publisher.find(text, intent)
    assert found is not None
    assert found.channel == channel
    assert len(world.channel_state(channel)[PUBLISHED]) == 1


@pytest.mark.parametrize("fault", ["bad_json", "html", "truncated"])
def test_given_a_malformed_answer_to_a_post_then_the_outcome_is_unknown(
    fake_server: FakeChannelServer, world: World, fault: str
) -> None:
    world.faults.arm(fault, channel="mastodon")
    with pytest.raises(OutcomeUnknown) as unknown:
        _publisher(fake_server, world, "mastodon").publish("T.", _intent("mastodon", "T."))
    # And the message names the channel once, as the release grid shows it
    assert str(unknown.value).startswith("mastodon: ")
    assert not str(unknown.value).startswith("mastodon: mastodon")


def test_given_refused_credentials_then_refused_and_not_retryable(
    fake_server: FakeChannelServer, world: World
) -> None:
    publisher = _publisher(fake_server, world, "linkedin", access_token="wrong")
    with pytest.raises(PublishFailed) as refused:
        publisher.publish("T.", _intent("linkedin", "T."))
    assert not refused.value.retryable
    assert "wrong" not in str(refused.value)


def test_given_no_image_card_then_instagram_refuses_without_a_request(
    fake_server: FakeChannelServer, world: World
) -> None:
    with pytest.raises(PublishFailed, match="no text alone"):
        _publisher(fake_server, world, "instagram").publish(
            "T.", _intent("instagram", "T.", image_url=None)
        )
    assert not world.exchanges_of("instagram")


def test_given_linkedin_when_published_then_the_request_has_the_posts_api_shape(
    fake_server: FakeChannelServer, world: World
) -> None:
    text = "Wir entschuldigen uns (ehrlich) #sorry"
    post = _publisher(fake_server, world, "linkedin").publish(text, _intent("linkedin", text))
    (exchange,) = [e for e in world.exchanges if e.method == "POST"]
    body = json.loads(exchange.body)
    assert body["commentary"] == r"Wir entschuldigen uns \(ehrlich\) \#sorry"
    assert body["author"] == "urn:li:organization:2414183"
    assert body["lifecycleState"] == "PUBLISHED"
    assert exchange.headers["Linkedin-Version"]
    assert post.post_id == exchange.response_headers["x-restli-id"]
