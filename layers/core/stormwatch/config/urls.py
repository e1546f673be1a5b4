"""Where the functions may send a channel's credentials, and which feeds they may fetch.

Whoever can edit the config must not be able to redirect a channel's bearer token to a
host of their choosing, nor make a poller fetch from inside the network it runs in (the
instance metadata service at 169.254.169.254, a VPC's private addresses). So:

- every URL is https://;
- a channel with one API (X, Bluesky, Facebook, Instagram, LinkedIn, Reddit, Hootsuite)
  is reached only on that API's hosts;
- Mastodon (your own instance) and feeds may be any host, but never a loopback, private,
  link-local or otherwise non-public address written as the host, nor `localhost`.

Resolving a name to a private address at fetch time is the HTTP client's concern; this
module judges what the document says.

The local stack's own config (local/localconfig.py) sets
`allow_insecure_channel_urls_for_local_testing`, since its fake channels serve plain
http on 127.0.0.1. No environment variable can switch the checks off.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from stormwatch.config.act import ActSettings
    from stormwatch.config.channels import ChannelConfig

API_HOSTS: dict[str, tuple[str, ...]] = {
    "x": ("api.x.com", "api.twitter.com"),
    "bluesky": ("bsky.social", "public.api.bsky.app", "api.bsky.app"),
    "facebook": ("graph.facebook.com",),
    "instagram": ("graph.facebook.com", "graph.instagram.com"),
    "linkedin": ("api.linkedin.com",),
    "reddit": ("oauth.reddit.com",),
    "reddit.auth_url": ("www.reddit.com", "ssl.reddit.com"),
    "rss": ("news.google.com",),
    "hootsuite": ("platform.hootsuite.com",),
}
"""Per channel (and per other URL key), the hosts its API answers on."""

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


def url_problem(url: str, hosts: tuple[str, ...] | None) -> str | None:
    """What is wrong with `url` for a channel whose API answers on `hosts` (None: any public
    host), or None."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        return "must be an https:// URL"
    host = (parts.hostname or "").rstrip(".").lower()
    if hosts is not None:
        if host not in hosts:
            return f"must be on {' or '.join(hosts)} (its credentials go there)"
        return None
    if host in LOCAL_NAMES or host.endswith(".localhost") or _non_public(host):
        return "must not be a private or local address (it would be fetched from inside AWS)"
    return None


def _non_public(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def channel_urls(
    channels: dict[str, ChannelConfig], act: ActSettings
) -> Iterator[tuple[str, tuple[str | int, ...], tuple[str, ...] | None]]:
    """Every URL the document gives the functions: (url, its key, the hosts it may be on)."""
    for name, channel in channels.items():
        yield channel.base_url, ("channels", name, "base_url"), API_HOSTS.get(name)
        auth_url = channel.options.get("auth_url")
        if isinstance(auth_url, str):
            yield auth_url, ("channels", name, "auth_url"), API_HOSTS[f"{name}.auth_url"]
        for index, feed in enumerate(channel.feeds):
            yield feed.url, ("channels", name, "feeds", index, "url"), None
    hootsuite = act.schedulers.hootsuite
    yield hootsuite.base_url, ("act", "schedulers", "hootsuite", "base_url"), API_HOSTS["hootsuite"]
