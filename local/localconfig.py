"""The example configuration, pointed at the fake channel server instead of the real APIs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config" / "example.yaml"


def read_document(path: Path = EXAMPLE_CONFIG) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: the configuration must be a mapping")
    return document


def localize(document: dict[str, Any], channel_url: Callable[[str], str]) -> dict[str, Any]:
    """A copy whose channels call `channel_url(channel)` (the fake server) instead: plain
    http on 127.0.0.1, which only the local stack's own config allows."""
    local = copy.deepcopy(document)
    local["allow_insecure_channel_urls_for_local_testing"] = True
    for name, settings in (local.get("channels") or {}).items():
        base = channel_url(name)
        settings["base_url"] = base
        if name == "reddit":
            settings["auth_url"] = base
        if name == "rss":
            for feed in settings.get("feeds", []):
                parts = urlsplit(feed["url"])
                feed["url"] = base + parts.path + (f"?{parts.query}" if parts.query else "")
    hootsuite = ((local.get("act") or {}).get("schedulers") or {}).get("hootsuite")
    if isinstance(hootsuite, dict):
        # Hootsuite is a scheduler, not a channel: its fake serves below its own prefix.
        hootsuite["base_url"] = channel_url("hootsuite")
    return local
