"""Fake Facebook Page lookup: ``GET /<version>/{page-username or page-id}?fields=...``.

Pages are the known brands (the configured Page is ``nordwindair``); people's profiles
are not visible to a Page token and answer like any object the token cannot load (400,
code 100/33); an unknown username answers 404, code 803, as Graph does. Token, usage
headers and throttling are the Facebook fake's.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from local.fakechannels.facebook import _API, PAGE_ID
from local.fakechannels.graph import GraphFault, parse_fields, unsupported_get
from local.fakechannels.lookup.accounts import BRANDS, find
from local.fakechannels.world import World

PAGE_FIELDS = ("id", "name", "username", "link", "category", "fan_count")
# Page ids of the brands; the first is the configured Page.
PAGE_IDS = {"nordwindair": PAGE_ID, "kolibripay": "100012345678902"}


def page(world: World, request: Request, node: str) -> dict[str, Any]:
    del world
    by_id = {page_id: name for name, page_id in PAGE_IDS.items()}
    name = by_id.get(node, node)
    account = find(name)
    if account is None:
        raise GraphFault(404, 803, f"(#803) Some of the aliases you requested do not exist: {node}")
    if account not in BRANDS:
        raise unsupported_get(node)
    fields = parse_fields(request.args.get("fields"), ("name", "id"), PAGE_FIELDS, "Page")
    values = {
        "id": PAGE_IDS[account.name],
        "name": account.display_name,
        "username": account.name,
        "link": f"https://www.facebook.com/{account.name}",
        "category": "Airline Company" if account.name == "nordwindair" else "Financial Service",
        "fan_count": 48_000,
    }
    return {name: values[name] for name in fields}


def rules() -> list[Rule]:
    # GET only: the scheduling fake's DELETE /{post-id} shares this path.
    route = _API.rule("/<node>", page)
    return [Rule(route.rule, endpoint=route.endpoint, methods=["GET"])]
