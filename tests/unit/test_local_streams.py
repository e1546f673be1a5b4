"""The local stack's stand-in for Lambda's event filtering on a stream (local.streams)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.stack import TEMPLATE
from local.streams import _matches_any


@pytest.fixture(scope="module")
def mentions_only() -> dict[str, Any]:
    """The filter of the template's CountMentionsStream."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    mapping = template["Resources"]["CountMentionsStream"]["Properties"]
    (only,) = mapping["FilterCriteria"]["Filters"]
    pattern: dict[str, Any] = json.loads(only["Pattern"])
    return pattern


def _record(event: str, pk: str) -> dict[str, object]:
    return {"eventName": event, "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "s"}}}}


@pytest.mark.parametrize(
    ("event", "pk", "passes"),
    [
        ("INSERT", "MENTION#x#2026-11-22", True),
        ("MODIFY", "MENTION#x#2026-11-22", False),  # a mention written again: not new
        ("REMOVE", "MENTION#x#2026-11-22", False),  # expired by its TTL
        ("INSERT", "BRAND#acme", False),  # a new bucket item
        ("INSERT", "CURSOR#x", False),
    ],
)
def test_only_a_mention_s_insertion_passes_the_template_s_filter(
    mentions_only: dict[str, Any], event: str, pk: str, passes: bool
) -> None:
    # Given the filter of CountMentionsStream / When a record is matched / Then as Lambda would
    assert _matches_any([mentions_only], _record(event, pk)) is passes


def test_no_filter_lets_everything_through_and_an_unknown_rule_is_refused() -> None:
    assert _matches_any([], _record("MODIFY", "BRAND#acme"))
    # A rule the local stack does not implement must not silently match or drop records
    with pytest.raises(ValueError, match="not supported"):
        _matches_any([{"eventName": [{"anything-but": ["REMOVE"]}]}], _record("INSERT", "x"))
