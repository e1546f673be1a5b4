"""Fake Instagram business discovery:
``GET /<version>/{ig-user-id}?fields=business_discovery.username(<name>){<fields>}``.

Only the configured business account may ask; the brands are business accounts, the
people personal ones, which business discovery cannot see: both those and unknown names
answer code 110/2207013 "Cannot find User", as Graph does. Hashtags are looked up with
the Instagram fake's ``ig_hashtag_search``.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from local.fakechannels.graph import GraphFault, invalid_parameter
from local.fakechannels.instagram import _API, BUSINESS_ACCOUNT_ID
from local.fakechannels.lookup.accounts import BRANDS, find
from local.fakechannels.world import World

DISCOVERY = re.compile(r"business_discovery\.username\(([^()]*)\)\{([a-z_,]+)\}")
DISCOVERY_FIELDS = ("id", "name", "username", "followers_count", "media_count", "biography")
BRAND_USER_IDS = {"nordwindair": "17841400000000101", "kolibripay": "17841400000000102"}


def user(world: World, request: Request, node: str) -> dict[str, Any]:
    if node != BUSINESS_ACCOUNT_ID:
        # Another node may be a post the publishing fake made (IG Media).
        from local.fakechannels.publishing.instagram import media_node

        return media_node(world, request, node)
    raw = request.args.get("fields", "")
    if raw in ("", "id"):
        return {"id": node}
    match = DISCOVERY.fullmatch(raw)
    if match is None:
        raise invalid_parameter(f"Syntax error in field ({raw})")
    name, wanted = match.group(1), match.group(2).split(",")
    unknown = [field for field in wanted if field not in DISCOVERY_FIELDS]
    if unknown:
        raise invalid_parameter(
            f"Tried accessing nonexisting field ({unknown[0]}) on node type (User)"
        )
    account = find(name)
    if account is None or account not in BRANDS:
        raise GraphFault(400, 110, "Invalid user id", subcode=2207013)
    values = {
        "id": BRAND_USER_IDS[account.name],
        "name": account.display_name,
        "username": account.name,
        "followers_count": 25_000,
        "media_count": 310,
        "biography": "",
    }
    return {"business_discovery": {key: values[key] for key in wanted}, "id": node}


def rules() -> list[Rule]:
    # GET only: publishing's POST /{ig-user-id}/media lives beside it.
    route = _API.rule("/<node>", user)
    return [Rule(route.rule, endpoint=route.endpoint, methods=["GET"])]
