"""Fake LinkedIn organization lookup: ``GET /rest/organizations?q=vanityName&vanityName=``.

A Rest.li finder: the collection of organizations with that vanity name (none, or one),
``localizedName`` the display name. Headers, token, budget and errors are the LinkedIn
fake's. People are members, not organizations, and are not found here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from local.fakechannels.linkedin import (
    ORGANIZATION_ID,
    RestliValue,
    _bad_request,
    _collection,
    _endpoint,
    _text_param,
)
from local.fakechannels.lookup.accounts import BRANDS
from local.fakechannels.world import World

ORGANIZATION_IDS = {"nordwindair": int(ORGANIZATION_ID), "kolibripay": 2414190}


def organizations(
    world: World, request: Request, params: Mapping[str, RestliValue]
) -> dict[str, Any]:
    del world, request
    if _text_param(params, "q", "") != "vanityName":
        raise _bad_request("Invalid value for param q: only the vanityName finder is served")
    vanity = _text_param(params, "vanityName", "")
    if not vanity:
        raise _bad_request("Missing required param vanityName")
    found = [account for account in BRANDS if account.name.casefold() == vanity.casefold()]
    elements = [
        {
            "id": ORGANIZATION_IDS[account.name],
            "vanityName": account.name,
            "localizedName": account.display_name,
            "name": {
                "localized": {"en_US": account.display_name},
                "preferredLocale": {"country": "US", "language": "en"},
            },
            "primaryOrganizationType": "NONE",
            "organizationType": "PUBLIC_COMPANY",
        }
        for account in found
    ]
    return _collection(elements, 0, 10, "/rest/organizations", f"q=vanityName&vanityName={vanity}")


def rules() -> list[Rule]:
    return [Rule("/rest/organizations", endpoint=_endpoint(organizations), methods=["GET"])]
