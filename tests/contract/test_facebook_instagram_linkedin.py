"""Facebook, Instagram and LinkedIn publish no machine-readable spec, so their contract is
the documentation's own examples (``documented/<channel>/``, sources in SOURCES.md).

Two promises are checked, for every request the adapters make while reading the scenario:
- the fake answers like the documentation: every key it sends is documented, with the
  documented JSON type, nested the same way (lists item by item); documented keys are
  all there unless ``requests.json`` lists them optional; keys written ``{...}`` in an
  example stand for any key; error bodies and Graph's usage headers likewise;
- the adapters ask like the documentation: only documented paths, parameters (with
  documented values), field names and modifiers, the documented headers, and the
  token never in the query. LinkedIn's parameters and paths are checked on the raw
  request URI, because Rest.li's encoding is part of its contract.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import time_machine

from local.fakechannels.registry import fake_module
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import RecordedExchange, World
from local.scenario import Scenario
from stormwatch.channels import mention_sources
from stormwatch.channels.base import ChannelContext
from stormwatch.channels.http import HttpClient
from stormwatch.errors import ChannelError
from tests.helpers import context_for, example_config, start_fake

DOCUMENTED = Path(__file__).parent / "documented"
CHANNELS = ("facebook", "instagram", "linkedin")
GRAPH_CHANNELS = ("facebook", "instagram")


@cache
def _documented(channel: str, name: str) -> Any:
    return json.loads((DOCUMENTED / channel / name).read_text(encoding="utf-8"))


def _contract(channel: str) -> dict[str, Any]:
    contract: dict[str, Any] = _documented(channel, "requests.json")
    return contract


# --- shapes -------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _merged_items(items: list[Any]) -> Any:
    """One shape for a documented list: objects merged key by key, else the first item."""
    objects = [item for item in items if isinstance(item, dict)]
    if not objects:
        return items[0] if items else None
    merged: dict[str, Any] = {}
    for item in objects:
        for key, value in item.items():
            merged.setdefault(key, value)
    return merged


def _is_map(documented: dict[str, Any]) -> bool:
    return len(documented) == 1 and re.fullmatch(r"\{[^}]+\}", next(iter(documented))) is not None


def shape_problems(
    actual: Any,
    documented: Any,
    optional: frozenset[str],
    path: str = "$",
    maps: frozenset[str] = frozenset(),
) -> list[str]:
    """How `actual` departs from the shape of the documented example (empty: it does not).

    `maps` are the paths of objects keyed by ids (Rest.li batch answers), whose keys vary.
    """
    if _kind(actual) != _kind(documented):
        return [f"{path}: {_kind(actual)} where the documentation has {_kind(documented)}"]
    problems: list[str] = []
    if isinstance(documented, dict):
        if _is_map(documented) or path in maps:
            shape = _merged_items(list(documented.values()))
            for value in actual.values():
                problems += shape_problems(value, shape, optional, f"{path}{{}}", maps)
            return problems
        for key in actual:
            if key not in documented:
                problems.append(f"{path}.{key}: not documented")
        for key, value in documented.items():
            if key not in actual:
                if f"{path}.{key}" not in optional:
                    problems.append(f"{path}.{key}: documented but missing")
                continue
            problems += shape_problems(actual[key], value, optional, f"{path}.{key}", maps)
    elif isinstance(documented, list) and documented:
        shape = _merged_items(documented)
        for item in actual:
            problems += shape_problems(item, shape, optional, f"{path}[]", maps)
    return problems


def test_the_shape_check_catches_what_it_should() -> None:
    # Given a documented example
    documented = {"data": [{"id": "1", "n": 2}], "paging": {"next": "x"}, "m": {"{id}": [1]}}
    optional = frozenset({"$.paging.next"})

    # Then conforming answers pass and each kind of departure is named
    assert shape_problems({"data": [], "paging": {}, "m": {"7": [3]}}, documented, optional) == []
    assert shape_problems(
        {"data": [{"id": 1, "n": 2}], "paging": {}, "m": {}}, documented, optional
    )
    assert shape_problems({"data": [], "paging": {}, "m": {}, "x": 1}, documented, optional)
    assert shape_problems({"data": [], "m": {}}, documented, optional)
    assert shape_problems({"data": [], "paging": {}, "m": {"7": ["3"]}}, documented, optional)


# --- the recorded run -----------------------------------------------------------------


@dataclass
class Recording:
    """What one channel's adapter asked and the fake answered, plus error answers."""

    world: World
    server: FakeChannelServer
    reads: list[RecordedExchange] = field(default_factory=list)
    raw_uris: list[str] = field(default_factory=list)
    errors: list[tuple[str, int, bytes]] = field(default_factory=list)


def _context(channel: str, server: FakeChannelServer, world: World) -> ChannelContext:
    config = example_config(server.channel_url, channel, page_size=2)
    return context_for(
        config,
        channel,
        lambda: world.credentials[channel],
        http=HttpClient(channel, timeout=5.0),
        now=world.now,
    )


def _read_everything(channel: str, context: ChannelContext, start: Any) -> None:
    for source in mention_sources(channel, context):
        cursor = None
        for _ in range(200):
            pages = list(source.pages(cursor, start))
            if not pages or pages[-1].cursor == cursor:
                break
            cursor = pages[-1].cursor


def _graph_errors(recording: Recording, channel: str, base: str, token: str) -> None:
    module = fake_module(channel)
    bearer = {"Authorization": f"Bearer {token}"}
    node = getattr(module, "PAGE_ID", None) or module.BUSINESS_ACCOUNT_ID
    edge = "feed" if channel == "facebook" else "tags"
    attempts = [
        (f"{base}/v21.0/{node}/{edge}", {"fields": "id,no_such_field"}, bearer),
        (f"{base}/v21.0/999/{edge}", {}, bearer),
        (f"{base}/v21.0/{node}/{edge}", {}, {}),
        (f"{base}/v21.0/{node}/{edge}", {}, {"Authorization": "Bearer wrong"}),
        (f"{base}/v21.0/{node}/{edge}", {"since": "yesterday"}, bearer),
    ]
    for url, params, headers in attempts:
        answer = requests.get(url, params=params, headers=headers, timeout=5)
        recording.errors.append((url, answer.status_code, answer.content))
    recording.world.channel_state(channel)["budget"] = 0
    answer = requests.get(f"{base}/v21.0/{node}/{edge}", headers=bearer, timeout=5)
    recording.errors.append(("budget", answer.status_code, answer.content))


def _linkedin_errors(recording: Recording, base: str, token: str) -> None:
    good = {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": "202411",
        "X-Restli-Protocol-Version": "2.0.0",
    }
    finder = "q=criteria&organizationalEntity=urn%3Ali%3Aorganization%3A2414183"
    notes = f"{base}/rest/organizationalEntityNotifications"
    attempts = [
        (f"{notes}?{finder}&actions=List%28SHARE_MENTION%29", good),
        (f"{notes}?q=criteria&organizationalEntity=urn:li:organization:2414183", good),
        (f"{notes}?{finder}", {**good, "LinkedIn-Version": ""}),
        (f"{notes}?{finder}", {**good, "LinkedIn-Version": "202001"}),
        (f"{notes}?{finder}", {**good, "Authorization": "Bearer wrong"}),
        (f"{notes}?{finder}", {**good, "Authorization": ""}),
        (f"{base}/rest/socialActions/urn:li:share:1/comments", good),
        (f"{notes}?q=criteria&organizationalEntity=urn%3Ali%3Aorganization%3A1", good),
    ]
    for url, headers in attempts:
        answer = requests.get(url, headers={k: v for k, v in headers.items() if v}, timeout=5)
        recording.errors.append((url, answer.status_code, answer.content))
    recording.world.channel_state("linkedin")["budget"] = 0
    answer = requests.get(f"{notes}?{finder}", headers=good, timeout=5)
    recording.errors.append(("budget", answer.status_code, answer.content))


@pytest.fixture(scope="module")
def recordings(small_scenario: Scenario) -> Iterator[dict[str, Recording]]:
    """Each adapter reads the whole scenario at its end, in pages of two; then the fakes
    are made to fail in every documented way."""
    recorded: dict[str, Recording] = {}
    with time_machine.travel(small_scenario.end, tick=False):
        for channel in CHANNELS:
            module = fake_module(channel)
            server = start_fake(small_scenario, channel)
            world = server.world
            recording = Recording(world, server)
            recorded[channel] = recording
            _read_everything(channel, _context(channel, server, world), small_scenario.start)
            recording.reads = world.exchanges_of(channel)
            recording.raw_uris = list(world.channel_state(channel).get("raw_requests", []))
            token = next(iter(module.CREDENTIALS.values()))
            base = server.channel_url(channel)
            if channel == "linkedin":
                _linkedin_errors(recording, base, token)
            else:
                _graph_errors(recording, channel, base, token)
            fake = module.make_fake()
            for status in (400, 401, 403, 404, 429, 500, 503):
                answer = fake.error_response(status, world)
                recording.errors.append((f"fault {status}", status, answer.get_data()))
    yield recorded
    for recording in recorded.values():
        recording.server.stop()


def _endpoint(channel: str, path: str, params: dict[str, str]) -> dict[str, Any] | None:
    for endpoint in _contract(channel)["endpoints"]:
        if re.search(endpoint["path"], path) and endpoint.get("when_param", "") in {"", *params}:
            return dict(endpoint)
    return None


def _path_as_sent(recording: Recording, index: int) -> str:
    """The request path as it went over the wire (LinkedIn's URNs are encoded in it)."""
    exchange = recording.reads[index]
    if not recording.raw_uris:
        return exchange.path
    raw_path = _raw_parts(recording.raw_uris[index])[0]
    assert unquote(raw_path) == exchange.path, "raw URIs and exchanges out of step"
    return raw_path


def _raw_parts(uri: str) -> tuple[str, dict[str, str]]:
    raw_path, _, raw_query = uri.partition("?")
    params = dict(part.partition("=")[::2] for part in raw_query.split("&") if part)
    return raw_path, {unquote(key): value for key, value in params.items()}


# --- answers --------------------------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_answer_has_the_documented_shape(
    recordings: dict[str, Recording], channel: str
) -> None:
    # Given every successful answer the fake gave the adapter
    recording = recordings[channel]
    assert any(exchange.status == 200 for exchange in recording.reads)

    # Then each has the shape of its endpoint's documented example
    problems = []
    for index, exchange in enumerate(recording.reads):
        if exchange.status != 200:
            continue
        params = dict(exchange.query)
        path = _path_as_sent(recording, index)
        endpoint = _endpoint(channel, path, params)
        assert endpoint is not None, f"undocumented endpoint {exchange.path}"
        example = _documented(channel, endpoint["example"])
        answer = json.loads(exchange.response_body)
        maps = frozenset(endpoint.get("maps", []))
        found = shape_problems(answer, example, frozenset(endpoint["optional"]), maps=maps)
        problems += [f"{endpoint['name']}: {problem}" for problem in found]
    assert sorted(set(problems)) == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_paging_is_exercised_as_documented(recordings: dict[str, Recording], channel: str) -> None:
    # Given the answers the adapter paged through with pages of two
    answers = [json.loads(e.response_body) for e in recordings[channel].reads if e.status == 200]

    # Then there were pages with a documented "next" page, and last pages without one
    if channel == "linkedin":
        nexts = [
            a["paging"]["start"] + len(a["elements"]) < a["paging"]["total"]
            for a in answers
            if "paging" in a
        ]
    else:
        nexts = ["next" in a.get("paging", {}) for a in answers if "data" in a]
    assert any(nexts)
    assert not all(nexts)


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_error_answer_has_the_documented_shape(
    recordings: dict[str, Recording], channel: str
) -> None:
    # Given the fake refused bad tokens, versions, parameters, encodings and used-up quotas
    contract = _contract(channel)
    example = _documented(channel, contract["error_example"])
    errors = recordings[channel].errors

    # Then every refusal is an error status with the documented error body
    for what, status, body in errors:
        assert status >= 400, what
        problems = shape_problems(json.loads(body), example, frozenset(contract["error_optional"]))
        assert problems == [], f"{what}: {problems}"


@pytest.mark.parametrize("channel", GRAPH_CHANNELS)
def test_usage_headers_have_the_documented_shape(
    recordings: dict[str, Recording], channel: str
) -> None:
    documented = _documented(channel, "usage_headers.json")
    assert recordings[channel].reads
    for exchange in recordings[channel].reads:
        for header, example in documented.items():
            value = json.loads(exchange.response_headers[header])
            assert shape_problems(value, example, frozenset()) == [], header


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("facebook", {"190", "104", "100", "80001", "4", "200", "2"}),
        ("instagram", {"190", "104", "100", "80002", "4", "200", "2"}),
        (
            "linkedin",
            {
                "INVALID_ACCESS_TOKEN",
                "EMPTY_ACCESS_TOKEN",
                "VERSION_MISSING",
                "NONEXISTENT_VERSION",
                "ILLEGAL_ARGUMENT",
                "TOO_MANY_REQUESTS",
                "ACCESS_DENIED",
                "NOT_FOUND",
            },
        ),
    ],
)
def test_the_fake_refuses_what_the_real_api_refuses(
    recordings: dict[str, Recording], channel: str, expected: set[str]
) -> None:
    # Given the deliberate mistakes and used-up quotas of the recorded run
    bodies = [json.loads(body) for _what, _status, body in recordings[channel].errors]

    # Then the fake answered each with the documented code for it
    if channel == "linkedin":
        codes = {str(body["code"]) for body in bodies}
    else:
        codes = {str(body["error"]["code"]) for body in bodies}
    assert expected <= codes


# --- requests -------------------------------------------------------------------------


def _field_names(fields: str) -> list[tuple[str, list[str]]]:
    """``a,b.summary(true).limit(0)`` -> [("a", []), ("b", ["summary", "limit"])]."""
    parts, depth, current = [], 0, ""
    for char in fields:
        depth += char in "({"
        depth -= char in ")}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    named = []
    for part in parts:
        name, *modifiers = part.split(".")
        named.append((name, [modifier.split("(")[0] for modifier in modifiers]))
    return named


@pytest.mark.parametrize("channel", CHANNELS)
def test_requests_use_only_documented_paths_parameters_fields_and_headers(
    recordings: dict[str, Recording], channel: str
) -> None:
    contract = _contract(channel)
    recording = recordings[channel]
    uris = recording.raw_uris if channel == "linkedin" else None
    assert recording.reads
    for index, exchange in enumerate(recording.reads):
        # Given one request the adapter made
        assert exchange.method == "GET"
        decoded = dict(exchange.query)
        path = _path_as_sent(recording, index)
        params = _raw_parts(uris[index])[1] if uris else decoded
        endpoint = _endpoint(channel, path, decoded)

        # Then its path, parameters and their values are documented ones
        assert endpoint is not None, f"undocumented path {path}"
        for name, value in params.items():
            assert name in endpoint["params"], f"{endpoint['name']}: undocumented parameter {name}"
            pattern = endpoint["params"][name]
            assert pattern is None or re.search(pattern, value), f"{name}={value}"
        assert set(endpoint["required"]) <= set(params), endpoint["name"]
        assert not set(contract["forbidden_params"]) & set(params)

        # ... so are the fields and their modifiers
        for name, modifiers in _field_names(decoded["fields"]) if "fields" in decoded else []:
            assert name in endpoint["fields"], f"{endpoint['name']}: field {name}"
            assert set(modifiers) <= set(endpoint["field_modifiers"])

        # ... and the headers, with the token only in Authorization
        headers = {key.lower(): value for key, value in exchange.headers.items()}
        for header, pattern in contract["headers"].items():
            assert re.search(pattern, headers.get(header.lower(), "")), header
        token = next(iter(fake_module(channel).CREDENTIALS.values()))
        assert token not in " ".join(value for _key, value in exchange.query)


def test_linkedin_requests_carry_restli_encoding_on_the_wire(
    recordings: dict[str, Recording],
) -> None:
    # Given the raw URIs of LinkedIn's requests
    uris = recordings["linkedin"].raw_uris[: len(recordings["linkedin"].reads)]

    # Then lists and records travel with literal delimiters, and URNs encoded everywhere
    assert any("actions=List(SHARE_MENTION)" in uri for uri in uris)
    assert any(re.search(r"timeRange=\(start:\d+,end:\d+\)", uri) for uri in uris)
    assert any(re.search(r"ids=List\(urn%3Ali%3Ashare%3A\d+", uri) for uri in uris)
    assert any(re.search(r"/socialActions/urn%3Ali%3Ashare%3A\d+/comments", uri) for uri in uris)
    assert not [uri for uri in uris if "urn:li:" in uri or "%28" in uri or "%29" in uri]


def test_a_percent_encoded_restli_list_is_refused_as_linkedin_does(
    recordings: dict[str, Recording],
) -> None:
    # Given the request that spelled List( as List%28
    refused = [(s, b) for what, s, b in recordings["linkedin"].errors if "List%28" in what]

    # Then the fake refused it, so an adapter that let requests encode it would fail
    assert [status for status, _body in refused] == [400]


def test_the_adapters_fail_cleanly_on_the_refusals(
    recordings: dict[str, Recording], small_scenario: Scenario
) -> None:
    # Given fakes whose quota is now used up (see the recorded run)
    for channel in CHANNELS:
        recording = recordings[channel]
        context = _context(channel, recording.server, recording.world)
        source = mention_sources(channel, context)[-1]

        # When a source reads, Then it fails with a typed channel error
        with (
            time_machine.travel(small_scenario.end + timedelta(seconds=1), tick=False),
            pytest.raises(ChannelError),
        ):
            list(source.pages(None, small_scenario.start))
