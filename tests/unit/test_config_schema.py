"""The config document's JSON Schema: committed, current, and as strict as the reader."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest

from local.localconfig import EXAMPLE_CONFIG, read_document
from ops.cli import main
from stormwatch.config import config_schema, parse_config
from stormwatch.errors import ConfigError

COMMITTED = EXAMPLE_CONFIG.parent / "schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_the_committed_schema_is_the_one_the_model_generates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the schema in config/ / When the command prints the model's schema
    assert main(["config", "schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    # Then they are the same: a changed model without a new copy fails here
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert printed == config_schema()
    assert committed == printed, "run: stormwatch config schema > config/schema.json"


def test_the_schema_is_draft_2020_12_and_says_what_each_key_means() -> None:
    schema = config_schema()
    # It is a valid 2020-12 schema that names itself
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"]
    assert schema["title"] == "stormwatch configuration"
    # and the descriptions are the docstrings under the fields, a base section's included
    volume = schema["$defs"]["VolumeDetectorParams"]["properties"]
    assert volume["watch_return_days"]["description"] == (
        "Severity 1 (watch): an excess this series shows less than once in this many days."
    )
    x = schema["$defs"]["XChannel"]["properties"]
    assert x["timeout_seconds"]["description"] == "Seconds one HTTP request may take."
    window = schema["$defs"]["WindowEntry"]["properties"]
    assert window["from"]["description"].startswith("Local start")


def test_editors_find_the_schema_from_the_example() -> None:
    # The modeline VS Code's and JetBrains' YAML support read, relative to the file
    first_line = EXAMPLE_CONFIG.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=schema.json"
    assert (EXAMPLE_CONFIG.parent / "schema.json").exists()


def test_the_example_is_valid_under_the_schema(
    validator: jsonschema.Draft202012Validator,
) -> None:
    errors = [error.message for error in validator.iter_errors(read_document())]
    assert errors == []


def _set(document: dict[str, Any], key: str, value: object) -> None:
    *parents, last = re.findall(r"[^.\[\]]+", key)
    target: Any = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("bucket_minutes", "5", id="a quoted number"),
        pytest.param("channels.x.pagesize", 10, id="a typo"),
        pytest.param("alerts.negative_share.severity", 4, id="no such severity"),
        pytest.param("alerts.volume.bucket_minutes", 10, id="a key set at the top level"),
        pytest.param("roster.business_hours.start", 540, id="an unquoted time"),
        pytest.param("brands[0].id", "Nordwind Air", id="a brand id with spaces"),
        pytest.param("contacts[1].phone", "+49 151 12345678", id="a phone with spaces"),
        pytest.param("sentiment.analyzer", "magic", id="no such analyzer"),
        pytest.param("channels.reddit.subreddits", "de", id="a text for a list"),
    ],
)
def test_a_broken_document_is_refused_by_the_schema_and_by_the_reader(
    validator: jsonschema.Draft202012Validator, key: str, value: object
) -> None:
    # Given the example with one slip
    document = copy.deepcopy(read_document())
    _set(document, key, value)
    # When an editor checks it against the schema / Then it is marked
    assert list(validator.iter_errors(document))
    # And the reader refuses it too, naming the key
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    assert caught.value.key == key


@pytest.mark.parametrize("missing", ["brands", "channels", "contacts", "channels.facebook.page_id"])
def test_a_document_without_a_required_key_is_refused_by_both(
    validator: jsonschema.Draft202012Validator, missing: str
) -> None:
    document = copy.deepcopy(read_document())
    *parents, last = missing.split(".")
    target: Any = document
    for part in parents:
        target = target[part]
    del target[last]
    assert list(validator.iter_errors(document))
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    assert (caught.value.key, caught.value.problem) == (missing, "required")
