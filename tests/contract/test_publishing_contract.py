"""Contract: the publishing and scheduling fakes, and the requests our publishers and
schedulers send them, checked against the published specs in shared/specs where the
channel has one: X's OpenAPI document (``POST /2/tweets``, the user timeline `find` reads),
Mastodon's (``POST /api/v1/statuses`` with ``Idempotency-Key``, scheduled statuses) and
Bluesky's lexicons (``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` with
facets, ``createSession``, ``getRecord``, ``resolveHandle``).

Facebook, Instagram, LinkedIn and Hootsuite publish no machine-readable spec: their
answers are checked against the shapes their reference documentation shows (written out
below, each with its page), the same way `test_facebook_instagram_linkedin` checks the
reading side:
- Graph API: ``POST /{page-id}/feed`` and ``POST /{ig-user-id}/media`` and
  ``/media_publish`` answer ``{"id": "..."}`` (Pages API "Posts", Instagram Content
  Publishing); ``GET /{ig-media-id}?fields=permalink`` answers the id and the fields asked
  for (IG Media reference); ``/{page-id}/scheduled_posts`` lists ``data`` with
  ``scheduled_publish_time`` as a Unix time (Page reference, "scheduled_posts" edge);
- LinkedIn Posts API: ``POST /rest/posts`` answers 201 with the post's URN in
  ``x-restli-id`` and no body;
- Hootsuite REST API: ``POST /v1/messages`` answers ``{"data": [{"id", "state"}]}``,
  ``GET /v1/messages`` ``{"data": [message...]}``.

Spec fix: Mastodon's document types the ``Idempotency-Key`` header as an object; its
description says "any arbitrary string".

Finding: the fake Instagram had no ``GET /{ig-media-id}`` (it answered 400), so the
publisher's permalink of a new post was always empty; the fake now answers it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import time_machine

from local.fakechannels.registry import available_channels, fake_module
from local.fakechannels.scheduling import facebook as fake_facebook
from local.fakechannels.scheduling import hootsuite as fake_hootsuite
from local.fakechannels.scheduling import mastodon as fake_mastodon
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import RecordedExchange, World
from local.scenario import build_scenario
from stormwatch.channels.bluesky import _ACCOUNTS
from stormwatch.channels.http import HttpClient
from stormwatch.channels.publishers import PublishedPost, PublishIntent, publisher_for
from stormwatch.channels.publishers.base import text_hash
from stormwatch.channels.schedulers.base import Scheduler
from stormwatch.channels.schedulers.facebook import FacebookScheduler
from stormwatch.channels.schedulers.hootsuite import HootsuiteScheduler
from stormwatch.channels.schedulers.mastodon import MastodonScheduler
from stormwatch.config.act import HootsuiteScheduler as HootsuiteSettings
from tests.contract.lexicon import Lexicons
from tests.contract.openapi import SPECS, Spec
from tests.contract.test_facebook_instagram_linkedin import shape_problems
from tests.helpers import context_for, example_config

PUBLISHING = ("x", "mastodon", "bluesky", "facebook", "linkedin", "instagram")
T0 = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
TEXT = (
    "Flug NW 1234: Wir kümmern uns 🙏 Infos: https://nordwind.example/info "
    "#NordwindAir @anna.bsky.social"
)
CARD = "https://media.nordwind.example/cards/holding.jpg"


def _specs() -> Path:
    """shared/specs beside the checkout (a git worktree sits one level deeper)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "specs").is_dir():
            return parent / "shared" / "specs"
    return SPECS


X_SPEC = Spec.load(_specs() / "x" / "openapi.json")


def _idempotency_key_is_a_string(document: dict[str, Any]) -> None:
    """The document types the header as an object; its own description says "any
    arbitrary string" (a header is a string)."""
    (header,) = document["paths"]["/api/v1/statuses"]["post"]["parameters"]
    assert header["name"] == "Idempotency-Key"
    header["schema"]["type"] = "string"


MASTODON_SPEC = Spec.load(_specs() / "mastodon" / "openapi.json").patched(
    _idempotency_key_is_a_string
)
LEXICONS = Lexicons(_specs() / "bluesky" / "lexicons")

# Documented shapes (see the module's docstring for the pages).
GRAPH_CREATED = {"id": "1234567890"}
IG_MEDIA_PERMALINK = {"id": "17895695668004550", "permalink": "https://www.instagram.com/p/x/"}
FB_SCHEDULED_POSTS = {
    "data": [
        {
            "id": "100012345678901_1600000000000001",
            "message": "...",
            "link": "https://example.com/",
            "scheduled_publish_time": 1798106400,
            "created_time": "2026-12-24T09:00:00+0000",
        }
    ],
    "paging": {"cursors": {"before": "b", "after": "a"}, "next": "https://..."},
}
FB_OPTIONAL = frozenset({"$.paging", "$.paging.next", "$.data[].link"})
HOOTSUITE_CREATED = {"data": [{"id": "9000000004", "state": "SCHEDULED"}]}


Published = dict[str, PublishedPost]


@pytest.fixture(scope="module")
def _run(_running_server: FakeChannelServer) -> tuple[list[RecordedExchange], Published]:
    """Every publisher posts and looks for its post; every scheduler lists, cancels and
    recreates: all against the fake server, every exchange recorded."""
    world = World(
        scenario=build_scenario(volume=0.01, seed=0),
        credentials={ch: dict(fake_module(ch).CREDENTIALS) for ch in available_channels()},
    )
    server = _running_server
    server.world = world
    _ACCOUNTS.clear()
    config = example_config(server.channel_url)
    posts: Published = {}
    with time_machine.travel(T0, tick=False):
        for channel in PUBLISHING:
            context = _context(config, world, channel)
            publisher = publisher_for(channel, context, language="de")
            text = f"{TEXT} ({channel})"
            intent = PublishIntent("s1", channel, text_hash(text), 1, T0, CARD)
            posts[channel] = publisher.publish(text, intent)
            publisher.find(text, intent)
        _drive_schedulers(server, world, config)
    return list(world.exchanges), posts


@pytest.fixture
def exchanges(_run: tuple[list[RecordedExchange], Published]) -> list[RecordedExchange]:
    return _run[0]


@pytest.fixture
def published(_run: tuple[list[RecordedExchange], Published]) -> Published:
    return _run[1]


def _drive_schedulers(server: FakeChannelServer, world: World, config: Any) -> None:
    """List, cancel and recreate on every scheduler, as parking and resuming do."""
    fake_mastodon.seed(world, 3, T0)
    fake_facebook.seed(world, 3, T0)
    fake_hootsuite.seed(world, 3, T0)
    hootsuite = HootsuiteScheduler(
        HootsuiteSettings(enabled=True, base_url=server.channel_url("hootsuite"), horizon_days=30),
        HttpClient("hootsuite", timeout=5),
        lambda: fake_hootsuite.CREDENTIALS,
        lambda: T0,
    )
    schedulers: list[Scheduler] = [
        MastodonScheduler(_context(config, world, "mastodon")),
        FacebookScheduler(_context(config, world, "facebook")),
        hootsuite,
    ]
    later = T0 + timedelta(days=2)
    for scheduler in schedulers:
        post = scheduler.scheduled()[0]
        scheduler.cancel(post)
        scheduler.recreate(post, later)
        scheduler.find_recreated(post, later)


def _context(config: Any, world: World, channel: str) -> Any:
    return context_for(
        config, channel, lambda: world.credentials[channel], http=HttpClient(channel, timeout=5)
    )


def _of(exchanges: list[RecordedExchange], channel: str) -> list[RecordedExchange]:
    return [e for e in exchanges if e.channel == channel and e.fault is None]


def _json(data: bytes) -> Any:
    return json.loads(data)


def _form(exchange: RecordedExchange) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(exchange.body.decode()).items()}


# --- X -----------------------------------------------------------------------------------


def test_x_answers_and_requests_match_the_openapi_document(
    exchanges: list[RecordedExchange],
) -> None:
    # Given what the X publisher sent and the fake answered: the post, then `find`
    recorded = _of(exchanges, "x")
    assert {(e.method.lower(), X_SPEC.operation(e.method, e.path).template) for e in recorded} == {
        ("post", "/2/tweets"),
        ("get", "/2/users/{id}/tweets"),
    }
    # Then every answer matches its response schema, every request its parameters, body
    # and security
    assert X_SPEC.check_answers(recorded) == []
    assert X_SPEC.check_requests(recorded, aliases={"tweet.fields": "post.fields"}) == []
    problems = [
        p for e in recorded for p in X_SPEC.check_request_body(e.method, e.path, e.headers, e.body)
    ]
    assert problems == []
    (post,) = [e for e in recorded if e.method == "POST"]
    assert post.status == 201


# --- Mastodon ----------------------------------------------------------------------------


def test_mastodon_answers_and_requests_match_the_openapi_document(
    exchanges: list[RecordedExchange],
) -> None:
    # Given the Mastodon publisher's and scheduler's exchanges
    recorded = _of(exchanges, "mastodon")
    templates = {
        (e.method.lower(), MASTODON_SPEC.operation(e.method, e.path).template) for e in recorded
    }
    assert {
        ("post", "/api/v1/statuses"),
        ("get", "/api/v1/scheduled_statuses"),
        ("delete", "/api/v1/scheduled_statuses/{id}"),
    } <= templates
    # Then answers, parameters, headers and bodies are as documented
    assert MASTODON_SPEC.check_answers(recorded) == []
    assert MASTODON_SPEC.check_requests(recorded) == []
    problems = [
        p
        for e in recorded
        for p in MASTODON_SPEC.check_request_body(e.method, e.path, e.headers, e.body)
    ]
    assert problems == []


def test_every_mastodon_post_carries_an_idempotency_key(
    exchanges: list[RecordedExchange],
) -> None:
    posts = [
        e for e in _of(exchanges, "mastodon") if (e.method, e.path) == ("POST", "/api/v1/statuses")
    ]
    assert len(posts) == 2  # the statement, and the restored scheduled post
    keys = [{k.lower(): v for k, v in e.headers.items()}.get("idempotency-key") for e in posts]
    assert all(keys)
    assert len(set(keys)) == 2
    scheduled = [e for e in posts if "scheduled_at" in _json(e.body)]
    assert (
        MASTODON_SPEC.check_schema(
            {"$ref": "#/components/schemas/ScheduledStatus"}, _json(scheduled[0].response_body)
        )
        == []
    )


# --- Bluesky -----------------------------------------------------------------------------


def test_bluesky_create_record_is_a_valid_post_with_facets_and_answers_as_the_lexicon_says(
    exchanges: list[RecordedExchange],
) -> None:
    # Given the Bluesky publisher's exchanges: session, handles, the record, the lookup
    recorded = _of(exchanges, "bluesky")
    methods = [e.path.removeprefix("/xrpc/") for e in recorded]
    assert "com.atproto.repo.createRecord" in methods
    problems = []
    for exchange in recorded:
        nsid = exchange.path.removeprefix("/xrpc/")
        if exchange.method == "POST":
            problems += LEXICONS.validate_input(nsid, _json(exchange.body), strict=True)
        else:
            problems += LEXICONS.validate_params(nsid, exchange.query, strict=True)
        problems += LEXICONS.validate_output(nsid, _json(exchange.response_body), strict=True)
    # Then each request and answer matches its method's lexicon
    assert problems == []
    # And the record is an app.bsky.feed.post whose facets are a link, a tag and a mention
    (create,) = [e for e in recorded if e.path.endswith("createRecord")]
    record = _json(create.body)["record"]
    assert LEXICONS.validate(record, "app.bsky.feed.post", strict=True) == []
    kinds = sorted(f["features"][0]["$type"] for f in record["facets"])
    assert kinds == [
        "app.bsky.richtext.facet#link",
        "app.bsky.richtext.facet#mention",
        "app.bsky.richtext.facet#tag",
    ]


# --- Facebook, Instagram, LinkedIn, Hootsuite: the documented shapes ---------------------


def test_graph_publishing_answers_have_the_documented_shapes(
    exchanges: list[RecordedExchange],
) -> None:
    facebook = _of(exchanges, "facebook")
    instagram = _of(exchanges, "instagram")
    created = [
        e
        for e in facebook + instagram
        if e.method == "POST" and e.path.endswith(("/feed", "/media", "/media_publish"))
    ]
    assert len(created) == 4  # the page post, the recreated scheduled post, container, media
    for exchange in created:
        assert exchange.status == 200
        assert shape_problems(_json(exchange.response_body), GRAPH_CREATED, frozenset()) == []
    # The requests carry what the documentation requires, as a form
    container, publish = [e for e in instagram if e.method == "POST"]
    assert set(_form(container)) == {"image_url", "caption"}
    assert _form(container)["image_url"] == CARD
    assert _form(publish) == {"creation_id": _json(container.response_body)["id"]}
    feed = next(e for e in facebook if e.path.endswith("/feed") and e.method == "POST")
    assert "message" in _form(feed)


def test_instagram_answers_a_media_nodes_permalink(
    exchanges: list[RecordedExchange], published: Published
) -> None:
    (node,) = [e for e in _of(exchanges, "instagram") if e.query == (("fields", "permalink"),)]
    assert node.status == 200
    assert shape_problems(_json(node.response_body), IG_MEDIA_PERMALINK, frozenset()) == []
    assert published["instagram"].url.startswith("https://www.instagram.com/p/")


def test_facebook_scheduled_posts_have_the_documented_shape(
    exchanges: list[RecordedExchange],
) -> None:
    listings = [e for e in _of(exchanges, "facebook") if e.path.endswith("/scheduled_posts")]
    assert listings
    for exchange in listings:
        answer = _json(exchange.response_body)
        assert shape_problems(answer, FB_SCHEDULED_POSTS, FB_OPTIONAL) == []
    recreated = [e for e in _of(exchanges, "facebook") if e.method == "POST"][-1]
    form = _form(recreated)
    assert form["published"] == "false"
    assert int(form["scheduled_publish_time"]) == int((T0 + timedelta(days=2)).timestamp())


def test_linkedin_post_is_created_as_documented(exchanges: list[RecordedExchange]) -> None:
    (post,) = [e for e in _of(exchanges, "linkedin") if e.method == "POST"]
    assert post.status == 201
    assert post.response_body == b""
    headers = {k.lower(): v for k, v in post.response_headers.items()}
    assert headers["x-restli-id"].startswith("urn:li:share:")
    sent = {k.lower(): v for k, v in post.headers.items()}
    assert sent["linkedin-version"].isdigit()
    assert sent["x-restli-protocol-version"] == "2.0.0"
    body = _json(post.body)
    assert {"author", "commentary", "visibility", "distribution", "lifecycleState"} <= set(body)


def test_hootsuite_messages_have_the_documented_shapes(
    exchanges: list[RecordedExchange],
) -> None:
    recorded = _of(exchanges, "hootsuite")
    (created,) = [e for e in recorded if e.method == "POST"]
    assert shape_problems(_json(created.response_body), HOOTSUITE_CREATED, frozenset()) == []
    assert set(_json(created.body)) == {"text", "socialProfileIds", "scheduledSendTime"}
    listed = [e for e in recorded if e.method == "GET"]
    for exchange in listed:
        assert dict(exchange.query)["state"] == "SCHEDULED"
        assert isinstance(_json(exchange.response_body)["data"], list)
