"""Fake Bluesky PDS: ``com.atproto.repo.createRecord`` (record keys unique per
collection) and ``com.atproto.repo.getRecord``. ``com.atproto.identity.resolveHandle``
is served once, by `local.fakechannels.lookup.bluesky`, which knows `KNOWN_HANDLES`."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels import bluesky
from local.fakechannels.bluesky import _bearer, _invalid, _json_input, _Window, _xrpc, _XrpcError
from local.fakechannels.graphemes import graphemes
from local.fakechannels.publishing import after_store, published, wait
from local.fakechannels.world import World

CHANNEL = bluesky.CHANNEL
POST = "app.bsky.feed.post"
# Accounts the fake resolves besides our own ("known_handles" in the channel state adds more).
KNOWN_HANDLES = ("nordwindair.bsky.social", "kolibripay.bsky.social", "anna.bsky.social")
_BAD_POST = "Invalid app.bsky.feed.post record"
_RKEY = re.compile(r"^[a-zA-Z0-9_~.:-]{1,512}$")
_FEATURES = frozenset(f"app.bsky.richtext.facet#{kind}" for kind in ("link", "mention", "tag"))


def rules() -> list[Rule]:
    return [
        Rule("/xrpc/com.atproto.repo.createRecord", methods=["POST"], endpoint=_create_endpoint),
        Rule("/xrpc/com.atproto.repo.getRecord", methods=["GET"], endpoint=_xrpc(get_record)),
    ]


def _our_did() -> str:
    return bluesky.did_of(bluesky.ACCOUNT_HANDLE)


def _records(world: World) -> dict[str, dict[str, Any]]:
    with world.lock:
        records: dict[str, dict[str, Any]] = world.channel_state(CHANNEL).setdefault("records", {})
    return records


def _create_endpoint(world: World, request: Request) -> Response:
    answer = _xrpc(create_record)(world, request)
    if answer.status_code != 200:
        return answer
    return after_store(
        world, CHANNEL, answer, lambda status: bluesky.make_fake().error_response(status, world)
    )


def create_record(world: World, request: Request, window: _Window) -> dict[str, Any]:
    _bearer(world, request, "access")
    wait(world, CHANNEL)
    body = _json_input(request)
    for name in ("repo", "collection", "record"):
        if name not in body:
            raise _invalid(f'Input must have the property "{name}"')
    if body["repo"] not in (_our_did(), bluesky.ACCOUNT_HANDLE):
        raise _XrpcError(400, "InvalidRequest", "Could not find repo")
    if body["collection"] != POST:
        raise _invalid(f"Invalid collection: {body['collection']}")
    record = body["record"]
    _check_post(record)
    rkey = body.get("rkey") or bluesky.tid_of(world.now(), len(_records(world)) % 1024)
    if not isinstance(rkey, str) or not _RKEY.match(rkey) or rkey in (".", ".."):
        raise _invalid("Input/rkey must be a valid Record Key")
    uri = f"at://{_our_did()}/{POST}/{rkey}"
    cid = bluesky.cid_of(record)
    with world.lock:
        records = _records(world)
        if rkey in records:
            raise _XrpcError(400, "InvalidRequest", f"Record already exists at {uri}")
        records[rkey] = {"uri": uri, "cid": cid, "value": record}
        published(world, CHANNEL).append({"uri": uri, "rkey": rkey, "text": record["text"]})
    return {
        "uri": uri,
        "cid": cid,
        "commit": {"cid": bluesky.cid_of(["commit", uri]), "rev": rkey},
        "validationStatus": "valid",
    }


def _check_post(record: Any) -> None:
    if not isinstance(record, dict) or record.get("$type") != POST:
        raise _invalid(f"{_BAD_POST}: Record/$type must be app.bsky.feed.post")
    text = record.get("text")
    if not isinstance(text, str):
        raise _invalid(f'{_BAD_POST}: Record must have the property "text"')
    if graphemes(text) > 300 or len(text.encode()) > 3000:
        raise _invalid(f"{_BAD_POST}: Record/text must not be longer than 300 graphemes")
    if not isinstance(record.get("createdAt"), str):
        raise _invalid(f'{_BAD_POST}: Record must have the property "createdAt"')
    size = len(text.encode())
    for facet in record.get("facets", []):
        index = facet.get("index") if isinstance(facet, dict) else None
        features = facet.get("features") if isinstance(facet, dict) else None
        if (
            not isinstance(index, dict)
            or not isinstance(index.get("byteStart"), int)
            or not isinstance(index.get("byteEnd"), int)
            or not 0 <= index["byteStart"] < index["byteEnd"] <= size
            or not isinstance(features, list)
            or not features
            or any(not isinstance(f, dict) or f.get("$type") not in _FEATURES for f in features)
        ):
            raise _invalid(f"{_BAD_POST}: Record/facets is invalid")


def get_record(world: World, request: Request, window: _Window) -> dict[str, Any]:
    repo, collection, rkey = (request.args.get(name) for name in ("repo", "collection", "rkey"))
    if not repo or not collection or not rkey:
        raise _invalid("Params must have the properties repo, collection and rkey")
    record = _records(world).get(rkey) if collection == POST else None
    if repo not in (_our_did(), bluesky.ACCOUNT_HANDLE) or record is None:
        raise _XrpcError(
            400, "RecordNotFound", f"Could not locate record: at://{repo}/{collection}/{rkey}"
        )
    return dict(record)
