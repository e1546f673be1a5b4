"""The fake feeds and the feed adapter against RSS 2.0, RFC 4287 (Atom) and RFC 9110.

The feeds' contract is the specifications: the required elements of an RSS 2.0 channel and
item (rssboard.org/rss-specification) and of an Atom feed and entry (RFC 4287), dates in
their formats, and conditional GET (RFC 9110 13.1). The validators below are first shown
to accept the specifications' own examples (`documented/rss/`). Google Alerts, which
documents nothing, is held to a reproduction of its real feeds: the same elements and
attributes, links wrapped in Google's redirect, ``<b>`` in titles and contents.
"""

from __future__ import annotations

import email.utils
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser
import requests
import time_machine

from local.fakechannels import rss as fake
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import World
from local.scenario import Scenario, build_scenario
from stormwatch.channels import rss
from tests.conftest import ContextFactory
from tests.helpers import example_config

DOCUMENTED = Path(__file__).parent / "documented" / "rss"
A = "{http://www.w3.org/2005/Atom}"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_ENTITY_TAG = re.compile(r'^"[\x21\x23-\x7e\x80-\xff]*"$')
_IMF_FIXDATE = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def _specimen(name: str) -> bytes:
    return (DOCUMENTED / name).read_bytes()


# --- validators of the specifications' requirements --------------------------------------


class _AtomCheck:
    """Collects where an Atom document breaks a MUST of RFC 4287 (sections 3 and 4)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def exactly_one(self, element: ET.Element, name: str, where: str) -> ET.Element | None:
        found = element.findall(f"{A}{name}")
        if len(found) != 1:
            self.problems.append(f"{where}: {len(found)} atom:{name}, exactly one is required")
        return found[0] if found else None

    def identity(self, element: ET.Element, where: str) -> None:
        identity = self.exactly_one(element, "id", where)
        if identity is not None and not _IRI.match(identity.text or ""):
            self.problems.append(f"{where}: id {identity.text!r} is not an IRI")

    def date(self, element: ET.Element | None, where: str) -> None:
        if element is not None and not _RFC3339.match(element.text or ""):
            self.problems.append(f"{where}: {element.text!r} is not an RFC 3339 date-time")

    def text(self, element: ET.Element | None, where: str) -> None:
        if element is not None and element.get("type", "text") not in ("text", "html", "xhtml"):
            self.problems.append(f"{where}: text construct of type {element.get('type')!r}")

    def common(self, element: ET.Element, where: str) -> None:
        """What feed and entry share: id, title, updated, authors with a name each."""
        self.identity(element, where)
        self.text(self.exactly_one(element, "title", where), f"{where}/title")
        self.date(self.exactly_one(element, "updated", where), f"{where}/updated")
        for author in element.findall(f"{A}author"):
            self.exactly_one(author, "name", f"{where}/author")

    def entry(self, entry: ET.Element, where: str, feed_has_author: bool) -> None:
        self.common(entry, where)
        published = entry.findall(f"{A}published")
        if len(published) > 1:
            self.problems.append(f"{where}: more than one atom:published")
        self.date(published[0] if published else None, f"{where}/published")
        self.text(entry.find(f"{A}summary"), f"{where}/summary")
        if not feed_has_author and entry.find(f"{A}author") is None:
            self.problems.append(f"{where}: no atom:author, and the feed has none either")
        links = entry.findall(f"{A}link")
        if any(not link.get("href") for link in links):
            self.problems.append(f"{where}: atom:link without href")
        alternates = [link for link in links if link.get("rel", "alternate") == "alternate"]
        if entry.find(f"{A}content") is None and not alternates:
            self.problems.append(f"{where}: neither atom:content nor an alternate atom:link")
        kinds = [(link.get("type"), link.get("hreflang")) for link in alternates]
        if len(set(kinds)) != len(kinds):
            self.problems.append(f"{where}: two alternate links of the same type and hreflang")


def atom_problems(document: bytes) -> list[str]:
    """Where an Atom document breaks a MUST of RFC 4287 (sections 3 and 4)."""
    root = ET.fromstring(document)  # noqa: S314 (our own fake's output and fixed files)
    if root.tag != f"{A}feed":
        return [f"root is {root.tag}, not atom:feed"]
    check = _AtomCheck()
    check.common(root, "feed")
    feed_has_author = root.find(f"{A}author") is not None
    for index, entry in enumerate(root.findall(f"{A}entry")):
        check.entry(entry, f"entry[{index}]", feed_has_author)
    return check.problems


def _rfc822(text: str | None) -> bool:
    try:
        moment = email.utils.parsedate_to_datetime(text or "")
    except (TypeError, ValueError):
        return False
    return moment.tzinfo is not None


def rss2_problems(document: bytes) -> list[str]:
    """Where an RSS document breaks the RSS 2.0 specification's required elements."""
    root = ET.fromstring(document)  # noqa: S314 (our own fake's output and fixed files)
    if root.tag != "rss" or root.get("version") != "2.0":
        return ["root is not <rss version=2.0>"]
    channels = root.findall("channel")
    if len(channels) != 1:
        return [f"{len(channels)} channel elements, exactly one is required"]
    channel = channels[0]
    problems = [
        f"channel: no {name}"
        for name in ("title", "link", "description")
        if not (channel.findtext(name) or "").strip()
    ]
    for name in ("pubDate", "lastBuildDate"):
        if channel.find(name) is not None and not _rfc822(channel.findtext(name)):
            problems.append(f"channel/{name}: not an RFC 822 date")
    for index, item in enumerate(channel.findall("item")):
        where = f"item[{index}]"
        if item.find("title") is None and item.find("description") is None:
            problems.append(f"{where}: needs a title or a description")
        if item.find("pubDate") is not None and not _rfc822(item.findtext("pubDate")):
            problems.append(f"{where}/pubDate: not an RFC 822 date")
        guid = item.find("guid")
        permalink = guid is not None and guid.get("isPermaLink", "true") == "true"
        if permalink and not item.findtext("guid", "").startswith(("http://", "https://")):
            problems.append(f"{where}/guid: a permalink guid must be a URL")
        link = item.findtext("link")
        if link is not None and not link.startswith(("http://", "https://")):
            problems.append(f"{where}/link: not an absolute URL")
    return problems


def _structure(document: bytes) -> set[tuple[str, tuple[str, ...]]]:
    """Element paths with their attribute names: the shape of a document without its data."""
    shape: set[tuple[str, tuple[str, ...]]] = set()

    def walk(element: ET.Element, path: str) -> None:
        here = f"{path}/{element.tag}"
        shape.add((here, tuple(sorted(element.attrib))))
        for child in element:
            walk(child, here)

    walk(ET.fromstring(document), "")  # noqa: S314 (our own fake's output and fixed files)
    return shape


# --- fixtures ------------------------------------------------------------------------------


def _get(server: FakeChannelServer, path: str, **headers: str) -> requests.Response:
    return requests.get(server.channel_url("rss") + path, headers=headers, timeout=5)


# --- the validators and the specifications' examples ---------------------------------------


def test_the_validators_accept_the_specifications_own_examples() -> None:
    # Given the examples of RFC 4287 and of the RSS 2.0 specification, and a real alert feed
    # When they are validated / Then no requirement is broken, and feedparser agrees
    assert atom_problems(_specimen("rfc4287_example.xml")) == []
    assert atom_problems(_specimen("google_alerts.xml")) == []
    assert rss2_problems(_specimen("rss2_sample.xml")) == []
    for name, version in (
        ("rfc4287_example.xml", "atom10"),
        ("google_alerts.xml", "atom10"),
        ("rss2_sample.xml", "rss20"),
    ):
        parsed = feedparser.parse(_specimen(name))
        assert (parsed.version, parsed.bozo) == (version, 0), name


def test_the_validators_notice_what_the_specifications_require() -> None:
    # Given documents each lacking something required
    atom = _specimen("rfc4287_example.xml")
    no_updated = re.sub(rb"<updated>[^<]*</updated>", b"", atom, count=2)
    no_author = re.sub(rb"<author>.*?</author>", b"", atom, flags=re.S)
    rss_doc = _specimen("rss2_sample.xml")
    no_description = rss_doc.replace(
        b"<description>Liftoff to Space Exploration.</description>", b""
    )

    # When they are validated / Then the missing requirement is named
    assert any("atom:updated" in p for p in atom_problems(no_updated))
    assert any("atom:author" in p for p in atom_problems(no_author))
    assert rss2_problems(no_description) == ["channel: no description"]


# --- the fake feeds ---------------------------------------------------------------------------


def test_the_alert_feed_is_valid_atom_shaped_like_google_alerts(
    fake_server: FakeChannelServer, now: datetime
) -> None:
    # Given the alert feed at the end of the scenario
    answer = _get(fake_server, fake.ALERTS_PATH)

    # When it is validated and compared with a real Google Alerts feed
    body = answer.content
    parsed = feedparser.parse(body)

    # Then it is valid Atom, served as such, with Google's elements and quirks
    assert answer.headers["Content-Type"].startswith("application/atom+xml")
    assert atom_problems(body) == []
    assert (parsed.version, parsed.bozo) == ("atom10", 0)
    assert _structure(body) == _structure(_specimen("google_alerts.xml"))
    entries = ET.fromstring(body).findall(f"{A}entry")  # noqa: S314
    assert entries
    for entry in entries:
        link = urlsplit(entry.find(f"{A}link").get("href", ""))  # type: ignore[union-attr]
        query = parse_qs(link.query)
        assert (link.scheme, link.netloc, link.path) == ("https", "www.google.com", "/url")
        assert sorted(query) == ["cd", "ct", "rct", "sa", "url", "usg"]
        assert (query["rct"], query["sa"], query["ct"]) == (["j"], ["t"], ["ga"])
        assert query["url"][0].startswith("https://")
        assert "%2F" in link.query  # the target comes percent-encoded
        assert "<b>" in (entry.findtext(f"{A}title") or "")
        assert "<b>" in (entry.findtext(f"{A}content") or "")
        assert entry.findtext(f"{A}author/{A}name") == ""


def test_the_blog_feed_is_valid_rss_2(fake_server: FakeChannelServer, now: datetime) -> None:
    # Given the blog aggregator at the end of the scenario
    answer = _get(fake_server, fake.BLOG_PATH)

    # When it is validated / Then it is RSS 2.0 as the specification requires, served as such
    assert answer.headers["Content-Type"].startswith("application/rss+xml")
    assert rss2_problems(answer.content) == []
    parsed = feedparser.parse(answer.content)
    assert (parsed.version, parsed.bozo) == ("rss20", 0)
    assert parsed.entries


def test_feeds_show_only_their_newest_entries_newest_first(
    fake_server: FakeChannelServer, world: World
) -> None:
    # Given a scenario with more alerts than a feed shows
    busy = build_scenario(volume=1.0, seed=7, channels=("rss",))
    fake_server.world = World(scenario=busy)
    alerts = [post for post in busy.posts if post.kind == "alert"]
    assert len(alerts) > fake.ALERTS_SHOWN

    # When the alert feed is read after the scenario
    with time_machine.travel(busy.end, tick=False):
        body = _get(fake_server, fake.ALERTS_PATH).content

    # Then it shows the newest ones only, newest first
    shown = [e.findtext(f"{A}id") for e in ET.fromstring(body).findall(f"{A}entry")]  # noqa: S314
    newest = sorted(alerts, key=lambda post: post.created_at, reverse=True)
    assert shown == [fake.mention_id(post) for post in newest[: fake.ALERTS_SHOWN]]


def test_conditional_requests_are_answered_as_rfc_9110_says(
    fake_server: FakeChannelServer, now: datetime
) -> None:
    # Given a first answer with its validators
    first = _get(fake_server, fake.BLOG_PATH)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    later = email.utils.format_datetime(now, usegmt=True)
    earlier = email.utils.format_datetime(now - timedelta(days=30), usegmt=True)

    # When it is asked again under each condition
    def status(**headers: str) -> int:
        return _get(fake_server, fake.BLOG_PATH, **headers).status_code

    matching = _get(fake_server, fake.BLOG_PATH, **{"If-None-Match": etag})

    # Then validators have their syntax, a match is 304 without body, If-None-Match decides
    assert _ENTITY_TAG.match(etag)
    assert _IMF_FIXDATE.match(last_modified)
    assert (matching.status_code, matching.content, matching.headers["ETag"]) == (304, b"", etag)
    assert status(**{"If-None-Match": f'"other", {etag}'}) == 304
    assert status(**{"If-None-Match": '"other"', "If-Modified-Since": later}) == 200
    assert status(**{"If-Modified-Since": last_modified}) == 304
    assert status(**{"If-Modified-Since": earlier}) == 200


def test_every_feed_of_the_example_config_is_served(
    fake_server: FakeChannelServer, now: datetime
) -> None:
    # Given the example config pointed at the fake
    config = example_config(fake_server.channel_url)

    # When each feed URL is fetched / Then it is a feed
    for feed in config.channel("rss").feeds:
        answer = requests.get(feed.url, timeout=5)
        assert answer.status_code == 200, feed.name
        assert feedparser.parse(answer.content).version in ("atom10", "rss20")


# --- the adapter ------------------------------------------------------------------------------


def test_the_adapter_asks_like_a_polite_feed_reader(
    channel_context: ContextFactory, small_scenario: Scenario, world: World, now: datetime
) -> None:
    # Given two polls of every feed
    start = small_scenario.start - timedelta(minutes=1)
    cursors: dict[str, object] = {}
    for _ in range(2):
        for source in rss.mention_sources(channel_context("rss")):
            for page in source.pages(cursors.get(source.key), start):  # type: ignore[arg-type]
                cursors[source.key] = page.cursor

    # When the recorded requests are read
    exchanges = world.exchanges_of("rss")
    validators: dict[str, tuple[str, str]] = {}

    # Then they are plain GETs asking for feeds, and each repeats the validators it was given
    assert [e.status for e in exchanges] == [200, 200, 304, 304]
    for exchange in exchanges:
        headers = {key.lower(): value for key, value in exchange.headers.items()}
        assert (exchange.method, exchange.query, exchange.body) == ("GET", (), b"")
        assert exchange.path in (fake.ALERTS_PATH, fake.BLOG_PATH)
        assert "application/atom+xml" in headers["accept"]
        assert "application/rss+xml" in headers["accept"]
        assert "authorization" not in headers
        assert "cookie" not in headers
        if exchange.path in validators:
            sent = (headers["if-none-match"], headers["if-modified-since"])
            assert sent == validators[exchange.path]
        answer = {key.lower(): value for key, value in exchange.response_headers.items()}
        validators[exchange.path] = (answer["etag"], answer["last-modified"])


def test_the_adapter_reads_the_specimens_as_their_authors_meant() -> None:
    # Given a Google Alerts feed, RFC 4287's example and the RSS 2.0 sample
    # When the adapter parses them
    alerts = rss.parse_feed(_specimen("google_alerts.xml"), "application/atom+xml", "feed:ga")
    atom = rss.parse_feed(_specimen("rfc4287_example.xml"), "application/atom+xml", "feed:x")
    sample = rss.parse_feed(_specimen("rss2_sample.xml"), "application/rss+xml", "feed:y")

    # Then alerts point to the article, by its site, without markup
    alert = alerts[0].mention
    assert alert is not None
    assert alert.url == (
        "https://www.hamburger-rundschau.example/wirtschaft/nordwind-air-streicht-fluege-100.html"
    )
    assert alert.author == "hamburger-rundschau.example"
    assert alert.text.startswith("Nordwind Air streicht Hunderte Flüge")
    assert "<b>" not in alert.text
    # And Atom entries inherit the feed's author; an RSS item may lack a title
    assert [e.mention.author for e in atom if e.mention] == ["John Doe"]
    untitled = sample[1].mention
    assert untitled is not None
    assert untitled.text.startswith("Sky watchers in Europe")
    assert untitled.url == "http://liftoff.msfc.nasa.gov/2003/05/30.html#item572"
    assert {e.mention.language for e in sample if e.mention} == {"en"}
