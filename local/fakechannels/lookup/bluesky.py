"""Fake Bluesky lookups: ``com.atproto.identity.resolveHandle`` and
``app.bsky.actor.getProfile``, with the Bluesky fake's sessions, budgets and XRPC errors.

The one resolveHandle of the fake: the lookup checks mentions with it and the publisher
resolves the mentions of a post's facets with it. Accounts are the known brands and
people (``nordwindair.bsky.social`` ...), the demo account, the publishing fake's
`KNOWN_HANDLES` and any ``known_handles`` a test adds to the channel state. An unknown
handle is 400 ``HandleNotFound`` (the lexicon's name), an unknown actor 400
``InvalidRequest: Profile not found``, as the services answer; resolveHandle needs no
token, as on the real services. `STALE_HANDLES` still resolve to an account that has
since taken another handle, as a handle does until its DNS or well-known record is
removed. Hashtags are looked up with the Bluesky fake's searchPosts.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from local.fakechannels.bluesky import (
    ACCOUNT_HANDLE,
    CHANNEL,
    _bearer,
    _invalid,
    _single,
    _Window,
    _xrpc,
    _XrpcError,
    did_of,
    handle_of,
)
from local.fakechannels.lookup.accounts import ACCOUNTS
from local.fakechannels.publishing.bluesky import KNOWN_HANDLES
from local.fakechannels.world import World

STALE_HANDLES = {"nordwind-old.bsky.social": "nordwindair.bsky.social"}
_CREATED = "2023-05-02T10:00:00.000Z"


def profiles(world: World) -> dict[str, str]:
    """handle -> display name ("" when the account set none) of every account the fake knows."""
    known = dict.fromkeys(KNOWN_HANDLES, "")
    known.update(dict.fromkeys(world.channel_state(CHANNEL).get("known_handles", ()), ""))
    known.update({handle_of(account.name): account.display_name for account in ACCOUNTS})
    known[ACCOUNT_HANDLE] = "stormwatch demo"
    return known


def _handle_param(request: Request, name: str) -> str:
    value = _single(request, name)
    if not value:
        raise _invalid(f'Error: Params must have the property "{name}"')
    return value.lower()


def resolve_handle(world: World, request: Request, window: _Window) -> Any:
    del window
    handle = _handle_param(request, "handle")
    current = STALE_HANDLES.get(handle, handle)
    if current not in profiles(world):
        raise _XrpcError(400, "HandleNotFound", "Unable to resolve handle")
    return {"did": did_of(current)}


def get_profile(world: World, request: Request, window: _Window) -> Any:
    del window
    _bearer(world, request, "access")
    actor = _handle_param(request, "actor")
    known = profiles(world)
    by_did = {did_of(handle): handle for handle in known}
    handle = by_did.get(actor) if actor.startswith("did:") else actor
    if handle is None or handle not in known:
        raise _invalid("Profile not found")
    seed = sum(handle.encode()) % 1000
    profile: dict[str, Any] = {"did": did_of(handle), "handle": handle}
    if known[handle]:
        profile["displayName"] = known[handle]
    return profile | {
        "description": "",
        "followersCount": 100 + seed * 7,
        "followsCount": 20 + seed % 50,
        "postsCount": 40 + seed,
        "indexedAt": _CREATED,
        "createdAt": _CREATED,
        "viewer": {"muted": False, "blockedBy": False},
        "labels": [],
    }


def rules() -> list[Rule]:
    return [
        Rule(
            "/xrpc/com.atproto.identity.resolveHandle",
            methods=["GET"],
            endpoint=_xrpc(resolve_handle),
        ),
        Rule("/xrpc/app.bsky.actor.getProfile", methods=["GET"], endpoint=_xrpc(get_profile)),
    ]
