"""RSS 2.0 and Atom feeds (blogs, Google Alerts), read with feedparser.

One source per configured feed, keyed ``feed:<slug of its name>``.

A feed is neither paged nor reliably ordered, and entries come and go, so the cursor
is a set rather than a position: ``seen`` holds short digests of the entry ids already
committed, bounded to the ids still present in the latest fetch (at most `MAX_SEEN`).
New entries are yielded oldest first in pages of at most ``page_size``, each page's
cursor adding its own ids. The fetch is a conditional GET (``If-None-Match`` /
``If-Modified-Since``); the validators are stored only with the last page, once every
entry of that version of the feed was committed, so a run cut short fetches in full
again instead of being told "304, nothing new".

Decisions:
- Entry id: Atom ``id`` / RSS ``guid``, else the link; ids longer than `MAX_ID_CHARS`
  become a SHA-256 digest (they end up in a DynamoDB key).
- created_at: ``published``, else ``updated``. An entry with neither is skipped (logged
  the first time it is seen): the store keys mentions by created_at, and any time made
  up for it (the fetch time, the feed's own date) would differ between runs and count
  it twice.
- The first poll of a feed (no cursor) yields only entries from ``start`` on; older
  ones are recorded as seen. After that every entry not seen yet is new, whatever its
  date: feeds do add old articles late.
- Google Alerts: entry links are ``https://www.google.com/url?...&url=<target>&...``;
  the mention's url is the target, its author the target's domain. Titles and contents
  carry ``<b>`` around the matched words; markup is stripped from every HTML text.
- feedparser reads nearly anything, so an answer is a feed only when feedparser finds
  a feed version. A document that is not well-formed is accepted when it is complete
  (real feeds carry stray ``&`` or undeclared prefixes) and refused when it is cut off.
- Feeds publish no quota on success; a 429 is honoured with its ``Retry-After``.
- Feed URLs can be capabilities (a Google Alerts feed URL is all it takes to read the
  alert), so messages name the source key, never the URL.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
import xml.sax
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from stormwatch.channels.base import ChannelContext, Cursor, MentionSource, Page
from stormwatch.channels.http import HttpResponse, retry_after, safe_url
from stormwatch.config import Feed
from stormwatch.errors import ChannelError, ConfigError, MalformedResponse, RateLimited
from stormwatch.model import Mention
from stormwatch.text import clean_text, fold, strip_markup

logger = logging.getLogger(__name__)

CHANNEL = "rss"
MAX_SEEN = 500
MAX_ID_CHARS = 256
DEFAULT_BACKOFF = timedelta(minutes=10)
ACCEPT = (
    "application/atom+xml, application/rss+xml;q=0.9, application/xml;q=0.8, "
    "text/xml;q=0.7, */*;q=0.1"
)

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_GOOGLE_HOST = re.compile(r"^(www\.)?google\.[a-z]{2,3}(\.[a-z]{2})?$")
_LANGUAGE = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]{1,8})*$")
_DOCUMENT_END = (b"</feed>", b"</rss>", b"</rdf:RDF>")


# --- reading a feed ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry with an identity; `mention` is None when it cannot be one (`problem`)."""

    key: str
    id: str
    mention: Mention | None
    problem: str = ""


def entry_key(entry_id: str) -> str:
    """The short digest of an entry id that the cursor keeps."""
    return hashlib.blake2b(entry_id.encode(), digest_size=8).hexdigest()


def unwrap_redirect(link: str) -> str:
    """The target of a Google redirect link (``/url?url=<target>`` or ``q=``), else `link`."""
    parts = urlsplit(link)
    if parts.path != "/url" or not _GOOGLE_HOST.match((parts.hostname or "").lower()):
        return link
    values = parse_qs(parts.query)
    for name in ("url", "q"):
        for target in values.get(name, []):
            if target.startswith(("https://", "http://")):
                return target
    return link


def parse_feed(body: bytes, content_type: str, source: str, location: str = "") -> list[FeedEntry]:
    """Entries of an RSS or Atom document, in document order; `MalformedResponse` if it is
    not one. Entries without any identity are logged and left out. Relative links are
    resolved against `location`, the feed's URL."""
    import feedparser

    headers = {"content-type": content_type, "content-location": location}
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.get("version"):
        kind = "HTML" if b"<html" in body[:2048].lower() else "something else"
        raise MalformedResponse(CHANNEL, f"{source}: not an RSS or Atom feed ({kind})")
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and isinstance(problem, xml.sax.SAXException):
        if not body.rstrip().endswith(_DOCUMENT_END):
            raise MalformedResponse(CHANNEL, f"{source}: feed is cut off ({problem})")
        logger.warning(
            "%s: %s is not well-formed XML (%s); read leniently", CHANNEL, source, problem
        )
    feed = parsed.get("feed", {})
    feed_language = _language(feed.get("language"))
    feed_author = feed.get("author") if isinstance(feed.get("author"), str) else ""
    entries = []
    for position, entry in enumerate(parsed.get("entries", [])):
        identity = _identity(entry)
        if identity is None:
            logger.warning(
                "%s: %s entry #%d has no id and no link; skipped", CHANNEL, source, position
            )
            continue
        entries.append(_entry(identity, entry, feed_language, feed_author))
    return entries


def _identity(entry: Mapping[str, Any]) -> str | None:
    for name in ("id", "link"):
        value = entry.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _entry(
    identity: str,
    entry: Mapping[str, Any],
    feed_language: str | None,
    feed_author: str,
) -> FeedEntry:
    mention_id = (
        identity
        if len(identity) <= MAX_ID_CHARS
        else "sha256:" + hashlib.sha256(identity.encode()).hexdigest()
    )
    key = entry_key(mention_id)
    created_at = _created_at(entry)
    if created_at is None:
        return FeedEntry(key, mention_id, None, "has no date")
    link = entry.get("link")
    url = unwrap_redirect(link) if isinstance(link, str) and _is_web(link) else ""
    unwrapped = bool(url) and url != link
    domain = _domain(url)
    # Atom entries inherit the feed's author; an alert's author is the site it found.
    author = entry.get("author")
    if not isinstance(author, str) or not author.strip():
        author = feed_author
    if unwrapped or not author.strip():
        author = domain
    title = _plain(entry.get("title_detail"), entry.get("title"))
    summary = _plain(_summary_detail(entry), entry.get("summary"))
    text = f"{title} {summary}" if fold(summary).strip() != fold(title).strip() else title
    mention = Mention(
        channel=CHANNEL,
        id=mention_id,
        url=url,
        author=clean_text(author, limit=200),
        text=clean_text(text),
        created_at=created_at,
        language=_entry_language(entry) or feed_language,
    )
    return FeedEntry(key, mention_id, mention)


def _is_web(link: str) -> bool:
    return link.startswith(("https://", "http://"))


def _domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _created_at(entry: Mapping[str, Any]) -> datetime | None:
    for name in ("published_parsed", "updated_parsed"):
        value = entry.get(name)
        if value is not None:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def _summary_detail(entry: Mapping[str, Any]) -> Any:
    detail = entry.get("summary_detail")
    if detail:
        return detail
    content = entry.get("content")
    return content[0] if isinstance(content, list) and content else None


def _plain(detail: Any, fallback: Any) -> str:
    """Plain text of a feed text construct; markup is stripped only from HTML ones."""
    if isinstance(detail, Mapping) and isinstance(detail.get("value"), str):
        value: str = detail["value"]
        return strip_markup(value) if detail.get("type") in _HTML_TYPES else value
    return strip_markup(fallback) if isinstance(fallback, str) else ""


def _entry_language(entry: Mapping[str, Any]) -> str | None:
    # dc:language of the entry, else the xml:lang in scope of its texts.
    candidates = [entry.get("language")]
    for detail in (entry.get("title_detail"), _summary_detail(entry)):
        if isinstance(detail, Mapping):
            candidates.append(detail.get("language"))
    for candidate in candidates:
        language = _language(candidate)
        if language:
            return language
    return None


def _language(tag: object) -> str | None:
    if not isinstance(tag, str):
        return None
    match = _LANGUAGE.match(tag.strip().lower())
    return match.group(1) if match else None


# --- the source ---------------------------------------------------------------------------


@dataclass(slots=True)
class FeedSource:
    context: ChannelContext
    feed: Feed
    key: str
    channel: str = CHANNEL

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        previous = _seen(cursor)
        response = self._fetch(cursor)
        if response.status == 304 and cursor is not None:
            yield Page([], dict(cursor))
            return
        if response.status != 200:
            raise MalformedResponse(CHANNEL, f"{self.key}: unexpected status {response.status}")
        entries = parse_feed(
            response.body, response.headers.get("content-type", ""), self.key, response.url
        )
        validators = _validators(response)
        handled, fresh = _triage(entries, previous, start)
        for entry in entries:
            if entry.mention is None and (previous is None or entry.key not in previous):
                logger.warning(
                    "%s: %s entry %s %s; skipped", CHANNEL, self.key, entry.id, entry.problem
                )
        if not fresh:
            yield Page([], {"seen": sorted(handled), **validators})
            return
        size = self.context.config.page_size
        for first in range(0, len(fresh), size):
            chunk = fresh[first : first + size]
            handled.update(entry.key for entry, _ in chunk)
            last = first + size >= len(fresh)
            yield Page(
                [mention for _, mention in chunk],
                {"seen": sorted(handled), **(validators if last else {})},
            )

    def _fetch(self, cursor: Cursor | None) -> HttpResponse:
        headers = {"Accept": ACCEPT}
        if cursor:
            if isinstance(cursor.get("etag"), str):
                headers["If-None-Match"] = cursor["etag"]
            if isinstance(cursor.get("last_modified"), str):
                headers["If-Modified-Since"] = cursor["last_modified"]
        try:
            return self.context.http.request(
                "GET", self.feed.url, headers=headers, throttle=self._throttle
            )
        except ChannelError as error:
            raise _without_url(error, self.feed.url, self.key) from None

    def _throttle(self, response: HttpResponse) -> datetime | None:
        if response.status != 429:
            return None
        now = self.context.now()
        return retry_after(response, now) or now + DEFAULT_BACKOFF


def _seen(cursor: Cursor | None) -> set[str] | None:
    if cursor is None:
        return None
    seen = cursor.get("seen")
    return {key for key in seen if isinstance(key, str)} if isinstance(seen, list) else set()


def _validators(response: HttpResponse) -> dict[str, str]:
    found = {
        "etag": response.headers.get("etag"),
        "last_modified": response.headers.get("last-modified"),
    }
    return {name: value for name, value in found.items() if value}


def _triage(
    entries: Sequence[FeedEntry], previous: set[str] | None, start: datetime
) -> tuple[set[str], list[tuple[FeedEntry, Mention]]]:
    """The keys already handled (seen, undated, before `start` on a first poll) and the new
    entries, oldest first. Only the newest `MAX_SEEN` entries count, so the cursor stays
    bounded without ever forgetting an entry the feed still shows."""
    unique: dict[str, FeedEntry] = {}
    for entry in entries:
        unique.setdefault(entry.key, entry)
    oldest = datetime.min.replace(tzinfo=UTC)
    considered = sorted(
        unique.values(),
        key=lambda entry: entry.mention.created_at if entry.mention else oldest,
        reverse=True,
    )[:MAX_SEEN]
    handled: set[str] = set()
    fresh: list[tuple[FeedEntry, Mention]] = []
    for entry in considered:
        if (
            (previous is not None and entry.key in previous)
            or entry.mention is None
            or (previous is None and entry.mention.created_at < start)
        ):
            handled.add(entry.key)
        else:
            fresh.append((entry, entry.mention))
    fresh.sort(key=lambda pair: (pair[1].created_at, pair[1].id))
    return handled, fresh


def _without_url(error: ChannelError, url: str, label: str) -> ChannelError:
    if isinstance(error, RateLimited):
        return RateLimited(CHANNEL, error.retry_at, f"({label})")
    message = str(error).removeprefix(f"{CHANNEL}: ").replace(safe_url(url), label)
    return type(error)(CHANNEL, message)


# --- sources -------------------------------------------------------------------------------


def feed_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")[:60].rstrip("-")


def mention_sources(context: ChannelContext) -> list[MentionSource]:
    """``feed:<slug>`` for each configured feed; two feeds may not share a slug."""
    sources: list[MentionSource] = []
    first_with: dict[str, int] = {}
    for index, feed in enumerate(context.config.feeds):
        slug = feed_slug(feed.name)
        where = f"channels.rss.feeds[{index}].name"
        if not slug:
            raise ConfigError(where, "needs at least one letter or digit (it names the source)")
        if slug in first_with:
            raise ConfigError(
                where, f"gives the same source key feed:{slug} as feeds[{first_with[slug]}]"
            )
        first_with[slug] = index
        sources.append(FeedSource(context, feed, f"feed:{slug}"))
    return sources
