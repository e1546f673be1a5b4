"""Fake X user lookup: ``GET /2/users/by/username/:username``.

As the live API: the bearer token and the per-endpoint ``x-rate-limit-*`` window of the
X fake, the username checked against ``^[A-Za-z0-9_]{1,15}$`` (400 invalid-request
problem otherwise), ``user.fields`` checked against the known fields, and an unknown
username answered 200 with a ``resource-not-found`` problem in ``errors[]``. Hashtags are
looked up with the X fake's recent search. `REWRITE` in the channel state applies here too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.lookup.accounts import find
from local.fakechannels.server import json_response
from local.fakechannels.world import World
from local.fakechannels.x import (
    BRAND_ACCOUNTS,
    EXPANSIONS,
    NAME,
    PROBLEMS,
    REWRITE,
    TWEET_FIELDS,
    USER_FIELDS,
    _authorised,
    _count_request,
    _field_list,
    _invalid_request,
    _param_error,
    problem_response,
)

USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
PARAMS = ("user.fields", "expansions", "tweet.fields")
# Fields the fake can render for a looked-up user; others asked for are left out, as X
# leaves out what it does not have.
_RENDERED = ("created_at", "protected", "verified", "description")


def user_id(name: str) -> str:
    brand_id = next((key for key, value in BRAND_ACCOUNTS.items() if value == name), None)
    if brand_id is not None:
        return brand_id
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:6], "big")
    return str(1_600_000_000_000_000_000 + digest)


def user_by_username(world: World, request: Request, username: str) -> Response:
    if not _authorised(world, request):
        return problem_response(401)
    admitted, headers = _count_request(world, "users_by_username")
    if not admitted:
        return problem_response(429, headers)
    errors: list[dict[str, Any]] = []
    if not USERNAME.fullmatch(username):
        message = f"The `username` query parameter value [{username}] does not match "
        errors.append(_param_error("username", username, message + "^[A-Za-z0-9_]{1,15}$"))
    for name in request.args:
        if name not in PARAMS:
            errors.append(
                _param_error(
                    name,
                    request.args[name],
                    f"The query parameter [{name}] is not one of [{','.join(PARAMS)}]",
                )
            )
    fields = _field_list(request.args, "user.fields", USER_FIELDS, errors)
    _field_list(request.args, "expansions", EXPANSIONS, errors)
    _field_list(request.args, "tweet.fields", TWEET_FIELDS, errors)
    if errors:
        return _invalid_request(errors, headers)
    account = find(username)
    if account is None:
        problem = {
            "value": username,
            "detail": f"Could not find user with username: [{username}].",
            "title": "Not Found Error",
            "resource_type": "user",
            "parameter": "username",
            "resource_id": username,
            "type": PROBLEMS + "resource-not-found",
        }
        return json_response({"errors": [problem]}, 200, headers)
    user: dict[str, Any] = {
        "id": user_id(account.name),
        "name": account.display_name,
        "username": account.name,
    }
    for field in _RENDERED:
        if field in fields:
            user[field] = {
                "created_at": "2014-03-01T09:00:00.000Z",
                "protected": False,
                "verified": account.brand,
                "description": "",
            }[field]
    payload: dict[str, Any] = {"data": user}
    rewrite: Callable[[dict[str, Any]], Any] | None = world.channel_state(NAME).get(REWRITE)
    return json_response(rewrite(payload) if rewrite else payload, 200, headers)


def rules() -> list[Rule]:
    return [Rule("/2/users/by/username/<username>", endpoint=user_by_username, methods=["GET"])]
