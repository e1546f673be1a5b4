"""Fake feeds: the two feeds of config/example.yaml, rendered from the scenario.

- ``/alerts/feeds/00000000000000000000/1111111111111111111``: a Google Alerts feed in
  Google's Atom shape (posts of kind ``alert``): entry ids
  ``tag:google.com,2013:googlealerts/feed:<n>``, links wrapped as
  ``https://www.google.com/url?rct=j&sa=t&url=<encoded target>&ct=ga&cd=...&usg=...``,
  ``<b>`` around the matched words in title and content, an empty author name.
- ``/feed.atom``: a blog aggregator (kind ``article``) in RSS 2.0 (despite the file name
  in the example config), with ``dc:creator`` and a per-item ``dc:language``.

Like real feeds they show only their newest entries (`ALERTS_SHOWN`, `BLOG_SHOWN`),
newest first, and answer conditional GETs (strong ``ETag``, ``Last-Modified`` = the
newest entry's date) with 304. Requests are counted per minute (`set_request_budget`);
beyond the budget the answer is 429 with ``Retry-After``. Errors are HTML pages, as
Google's and most web servers' are. `arm_fault` arms feed-specific bad answers the
shared fault plan has no words for (a cut-off document, a 200 HTML page, broken entries).
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.server import REASON_PHRASES
from local.fakechannels.state import queue_faults, take_fault
from local.fakechannels.world import World
from local.scenario import Post

NAME = "rss"
# Feeds are public; nothing to put in the secret.
CREDENTIALS: dict[str, str] = {}

ALERTS_PATH = "/alerts/feeds/00000000000000000000/1111111111111111111"
ALERTS_PUBLIC_URL = f"https://www.google.com{ALERTS_PATH}"
BLOG_PATH = "/feed.atom"
BLOG_PUBLIC_URL = f"https://blogs.example{BLOG_PATH}"
ALERTS_SHOWN = 20
BLOG_SHOWN = 30
WINDOW_SECONDS = 60
DEFAULT_BUDGET = 600
FAULTS = ("html_page", "broken_xml", "entry_without_id", "entry_without_date")

ATOM_TYPE = "application/atom+xml; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"

_BRAND_WORDS = re.compile(r"(?i)\b(nordwind\s?air|nordwind|kolibri\s?pay)\b")
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONSENT_PAGE = (
    "<!DOCTYPE html><html lang=de><head><meta charset=utf-8>"
    "<title>Bevor Sie zu Google weitergehen</title></head><body>"
    "<h1>Bevor Sie zu Google weitergehen</h1><form action=https://consent.google.com/save>"
    "<button>Alle akzeptieren</button></form></body></html>"
)

# --- what a post becomes ----------------------------------------------------------------


def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-") or "post"


def _alert_number(post: Post) -> int:
    return 10_000_000_000_000_000_000 + post.seq * 7_919


def alert_target(post: Post) -> str:
    """The article a Google Alert points to (the unwrapped link)."""
    site = _slug(post.author, 30)
    return f"https://www.{site}.example/news/{post.created_at:%Y/%m}/{_slug(post.text)}-{post.seq}"


def article_link(post: Post) -> str:
    site = _slug(post.author, 30)
    return f"https://{site}.blogs.example/{post.created_at:%Y/%m/%d}/{_slug(post.text)}/"


def mention_id(post: Post) -> str:
    """The entry id: Google's tag URI for alerts, the permalink guid for blog articles."""
    if post.kind == "alert":
        return f"tag:google.com,2013:googlealerts/feed:{_alert_number(post)}"
    return article_link(post)


def _redirect(post: Post) -> str:
    digest = hashlib.sha256(f"{post.seq}".encode()).hexdigest()
    return (
        f"https://www.google.com/url?rct=j&sa=t&url={quote(alert_target(post), safe='')}"
        f"&ct=ga&cd=CAIyGj{digest[:22]}&usg=AOvVaw{digest[22:44]}"
    )


def _xml_text(text: str) -> str:
    return html.escape(_NOT_XML.sub("", text), quote=True)


def _headline(text: str, limit: int = 90) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


def _bold(text: str) -> str:
    """HTML of `text` with the alert's words in ``<b>``, the way Google marks them."""
    return _BRAND_WORDS.sub(r"<b>\1</b>", html.escape(text, quote=False))


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _alert_entry(post: Post, omit: str | None) -> str:
    stamp = _rfc3339(post.created_at)
    identity = "" if omit == "id" else f"<id>{_xml_text(mention_id(post))}</id>"
    link = "" if omit == "id" else f'<link href="{_xml_text(_redirect(post))}"></link>'
    dates = "" if omit == "date" else f"<published>{stamp}</published><updated>{stamp}</updated>"
    return (
        f"<entry>{identity}"
        f'<title type="html">{_xml_text(_bold(_headline(post.text)))}</title>'
        f"{link}{dates}"
        f'<content type="html">{_xml_text(_bold(post.text))}</content>'
        "<author><name></name></author></entry>"
    )


def _article_item(post: Post, omit: str | None) -> str:
    link = _xml_text(article_link(post))
    identity = "" if omit == "id" else f'<link>{link}</link><guid isPermaLink="true">{link}</guid>'
    date = email.utils.format_datetime(post.created_at)
    description = f"<p>{html.escape(post.text, quote=False)}</p>"
    return (
        f"<item><title>{_xml_text(_headline(post.text))}</title>{identity}"
        + ("" if omit == "date" else f"<pubDate>{date}</pubDate>")
        + f"<dc:creator>{_xml_text(post.author_name)}</dc:creator>"
        f"<dc:language>{_xml_text(post.lang)}</dc:language>"
        f"<description>{_xml_text(description)}</description></item>"
    )


def alerts_document(posts: Sequence[Post], newest: datetime, omit: str | None = None) -> str:
    """The Atom document of the alert feed; `posts` newest first."""
    entries = "".join(
        _alert_entry(post, omit if index == 0 else None) for index, post in enumerate(posts)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">'
        "<id>tag:google.com,2005:reader/user/00000000000000000000/state/com.google/alerts/"
        "1111111111111111111</id>"
        "<title>Google Alert - Nordwind Air</title>"
        f'<link href="{ALERTS_PUBLIC_URL}" rel="self"></link>'
        f"<updated>{_rfc3339(newest)}</updated>{entries}</feed>"
    )


def blog_document(posts: Sequence[Post], newest: datetime, omit: str | None = None) -> str:
    """The RSS 2.0 document of the blog aggregator; `posts` newest first."""
    items = "".join(
        _article_item(post, omit if index == 0 else None) for index, post in enumerate(posts)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        "<title>Reiseblog Aggregator</title><link>https://blogs.example/</link>"
        "<description>Neue Beiträge aus deutschsprachigen und internationalen Reiseblogs"
        "</description>"
        f'<atom:link href="{BLOG_PUBLIC_URL}" rel="self" type="application/rss+xml"/>'
        f"<lastBuildDate>{email.utils.format_datetime(newest)}</lastBuildDate>"
        f"<generator>stormwatch fake feeds</generator>{items}</channel></rss>"
    )


# --- serving ------------------------------------------------------------------------------


def _state(world: World) -> dict[str, Any]:
    return world.channel_state(NAME)


def set_request_budget(world: World, requests_per_minute: int) -> None:
    with world.lock:
        _state(world)["budget"] = requests_per_minute


def arm_fault(world: World, kind: str, times: int = 1) -> None:
    """A feed-specific bad answer for the next feed requests, one of `FAULTS`."""
    queue_faults(world, NAME, kind, times, FAULTS)


def _html_error(status: int, headers: dict[str, str] | None = None) -> Response:
    reason = REASON_PHRASES.get(status, "Error")
    page = (
        f"<!DOCTYPE html><html lang=en><head><title>Error {status} ({reason})</title></head>"
        f"<body><p><b>{status}.</b> <ins>That's an error.</ins></p></body></html>"
    )
    return Response(page, status=status, headers=headers or {}, content_type="text/html")


def _over_budget(world: World) -> Response | None:
    now = world.now().timestamp()
    window = now // WINDOW_SECONDS * WINDOW_SECONDS
    with world.lock:
        state = _state(world)
        if state.get("window") != window:
            state["window"] = window
            state["used"] = 0
        state["used"] += 1
        spent = state["used"] > int(state.get("budget", DEFAULT_BUDGET))
    if not spent:
        return None
    wait = int(window + WINDOW_SECONDS - now) or 1
    return _html_error(429, {"Retry-After": str(wait)})


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [item.strip().removeprefix("W/") for item in header.split(",")]
    return "*" in candidates or etag.removeprefix("W/") in candidates


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    """RFC 9110: If-None-Match decides when present; If-Modified-Since only otherwise."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, etag)
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and int(last_modified.timestamp()) <= since.timestamp()
    return False


Render = Callable[[Sequence[Post], datetime, str | None], str]


def _serve(world: World, request: Request, kind: str, shown: int, render: Render) -> Response:
    refused = _over_budget(world)
    if refused is not None:
        return refused
    fault = take_fault(world, NAME)
    if fault == "html_page":
        return Response(_CONSENT_PAGE, status=200, content_type="text/html; charset=utf-8")
    posts = [post for post in world.visible_posts(NAME) if post.kind == kind][-shown:][::-1]
    newest = posts[0].created_at if posts else world.scenario.start
    omit = {"entry_without_id": "id", "entry_without_date": "date"}.get(fault or "")
    body = render(posts, newest, omit).encode()
    if fault == "broken_xml":
        body = body[: len(body) * 3 // 5]
    etag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
    headers = {"ETag": etag, "Last-Modified": email.utils.format_datetime(newest, usegmt=True)}
    if _not_modified(request, etag, newest):
        return Response(status=304, headers=headers)
    content_type = ATOM_TYPE if render is alerts_document else RSS_TYPE
    return Response(body, status=200, headers=headers, content_type=content_type)


def _alerts(world: World, request: Request) -> Response:
    return _serve(world, request, "alert", ALERTS_SHOWN, alerts_document)


def _blog(world: World, request: Request) -> Response:
    return _serve(world, request, "article", BLOG_SHOWN, blog_document)


class RssFake:
    name = NAME

    def rules(self) -> Iterable[Rule]:
        return [
            Rule(ALERTS_PATH, endpoint=_alerts, methods=["GET"]),
            Rule(BLOG_PATH, endpoint=_blog, methods=["GET"]),
        ]

    def error_response(self, status: int, world: World) -> Response:
        del world
        headers = {"Retry-After": "120"} if status in (429, 503) else None
        return _html_error(status, headers)


def make_fake() -> RssFake:
    return RssFake()
