"""Writes to the Meta Graph API (Facebook Page posts, Instagram media), on the read
adapters' `GraphClient`: the same token, version, quota and error mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.graph import GraphClient, usage_backoff
from stormwatch.channels.http import HttpClient, json_body
from stormwatch.channels.publishers.base import single_shot
from stormwatch.errors import MalformedResponse


class GraphWriter(GraphClient):
    """`GraphClient` plus form POSTs, each sent once."""

    def __init__(self, context: ChannelContext, *, credential: str) -> None:
        super().__init__(context, credential=credential)
        self._single: HttpClient = single_shot(context.http)

    def post(self, path: str, form: Mapping[str, str]) -> dict[str, Any]:
        self._wait_for_quota()
        response = self._single.request(
            "POST",
            f"{self._root}/{quote(path, safe='/_')}",
            form=dict(form),
            headers={"Authorization": f"Bearer {self._bearer()}"},
            throttle=lambda answer: self._read_error(answer, paged=False),
        )
        until = usage_backoff(response.headers, self._context.now())
        if until is not None:
            self._blocked_until = until
        payload = json_body(response, self.channel)
        if not isinstance(payload, dict):
            raise MalformedResponse(self.channel, f"POST {path}: expected a JSON object")
        return payload


def graph_id(payload: Mapping[str, Any], channel: str, what: str) -> str:
    value = payload.get("id")
    if not isinstance(value, str) or not value:
        raise MalformedResponse(channel, f"{what}: the answer has no id")
    return value
