"""Statement kinds: loading (clear errors), typed variables, sandboxed rendering where
values are never templates, and the hash approvals are bound to."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stormwatch.act.statements import (
    VARIANTS,
    Kind,
    KindError,
    StatementError,
    VariableError,
    list_kinds,
    load_kind,
    render,
    statement_hash,
)
from stormwatch.config.act import PUBLISHING_CHANNELS
from tests.helpers import examples

KIND_YAML = """\
title: Test notice
description: A small kind for the tests.
variables:
  situation: {type: text, description: What happened.}
  next_update: {type: datetime, description: Next update.}
  link: {type: url, description: Where to read more.}
  count: {type: integer, required: false, description: How many flights.}
  account: {type: handle, required: false, description: Our account.}
  day: {type: date, required: false, description: The day.}
languages:
  en: {title: Test notice}
"""
TEMPLATE = (
    "{{ situation }} Next update {{ next_update | datetime }}: {{ link }}"
    "{% if count %} ({{ count }} flights){% endif %}"
    "{% if account %} @{{ account }}{% endif %}"
    "{% if day %} on {{ day | date }}{% endif %}\n"
)
FACTS = {
    "situation": "Flights from Hamburg are delayed.",
    "next_update": "2026-03-14T16:00+01:00",
    "link": "https://nordwind-air.com/news",
}


def write_kind(
    root: Path,
    name: str = "notice",
    kind_yaml: str = KIND_YAML,
    templates: dict[str, str] | None = None,
) -> Path:
    folder = root / name
    (folder / "en").mkdir(parents=True)
    (folder / "kind.yaml").write_text(kind_yaml)
    for variant in VARIANTS:
        (folder / "en" / f"{variant}.j2").write_text((templates or {}).get(variant, TEMPLATE))
    return folder


@pytest.fixture
def kind(tmp_path: Path) -> Kind:
    return load_kind(write_kind(tmp_path))


# --- loading -------------------------------------------------------------------------------


def test_a_kind_loads_with_its_variables_and_languages(kind: Kind) -> None:
    assert kind.name == "notice"
    assert kind.title == "Test notice"
    assert [(v.name, v.type, v.required) for v in kind.variables] == [
        ("situation", "text", True),
        ("next_update", "datetime", True),
        ("link", "url", True),
        ("count", "integer", False),
        ("account", "handle", False),
        ("day", "date", False),
    ]
    assert dict(kind.languages) == {"en": "Test notice"}


@pytest.mark.parametrize(
    ("kind_yaml", "message"),
    [
        ("title: [unclosed", r"kind\.yaml: not valid YAML"),
        ("- a list", r"kind\.yaml: must be a mapping"),
        (KIND_YAML.replace("title: Test notice\n", "", 1), r"kind\.yaml: title must be"),
        (KIND_YAML + "colour: red\n", r"kind\.yaml: unknown key 'colour'"),
        (
            KIND_YAML.replace("type: url", "type: link"),
            r"kind\.yaml: variables\.link: type must be one of",
        ),
        (
            KIND_YAML.replace("{type: url,", "{type: url, required: maybe,"),
            r"kind\.yaml: variables\.link: required must be true or false",
        ),
        (
            KIND_YAML.replace("{type: url, description: Where to read more.}", "{type: url}"),
            r"kind\.yaml: variables\.link: description must be",
        ),
        (KIND_YAML.replace("  en: {title: Test notice}", "  english: {}"), r"'english' is not"),
        (
            KIND_YAML.replace("{type: text,", "{type: text, required: false,")
            .replace("{type: datetime,", "{type: datetime, required: false,")
            .replace("{type: url,", "{type: url, required: false,"),
            r"at least one must be required",
        ),
    ],
)
def test_a_malformed_kind_yaml_is_an_error_naming_file_and_key(
    tmp_path: Path, kind_yaml: str, message: str
) -> None:
    # Given a kind.yaml with one mistake / When loaded / Then the error names file and key
    folder = write_kind(tmp_path, kind_yaml=kind_yaml)
    with pytest.raises(KindError, match=message):
        load_kind(folder)


def test_a_missing_template_is_an_error_naming_the_file(tmp_path: Path) -> None:
    folder = write_kind(tmp_path)
    (folder / "en" / "bluesky.j2").unlink()
    with pytest.raises(KindError, match=r"en/bluesky\.j2: cannot be read"):
        load_kind(folder)


def test_a_template_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    folder = write_kind(tmp_path, templates={"x": "{{ situation }}\n{% if link %}no end"})
    with pytest.raises(KindError, match=r"en/x\.j2: line \d+"):
        load_kind(folder)


def test_a_template_using_an_undeclared_variable_is_refused_at_load(tmp_path: Path) -> None:
    folder = write_kind(tmp_path, templates={"linkedin": "{{ situation }} {{ sitaution }}"})
    with pytest.raises(KindError, match=r"en/linkedin\.j2: uses 'sitaution'"):
        load_kind(folder)


def test_a_template_without_any_required_fact_is_boilerplate(tmp_path: Path) -> None:
    folder = write_kind(tmp_path, templates={"mastodon": "We are looking into it."})
    with pytest.raises(KindError, match=r"mastodon\.j2: uses none of the required"):
        load_kind(folder)


def test_list_kinds_lists_every_folder_with_a_kind_yaml(tmp_path: Path) -> None:
    write_kind(tmp_path, "zeta")
    write_kind(tmp_path, "alpha")
    (tmp_path / "README.md").write_text("not a kind")
    (tmp_path / "drafts").mkdir()
    assert [kind.name for kind in list_kinds(tmp_path)] == ["alpha", "zeta"]


# --- variables ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"situation": None}, r"needs variable 'situation': What happened\."),
        ({"situation": "   "}, r"needs variable 'situation'"),
        ({"sitaution": "typo"}, r"has no variable 'sitaution'"),
        ({"next_update": "16:00"}, r"'next_update': expected an ISO 8601"),
        ({"next_update": "2026-03-14T16:00"}, r"'next_update': needs its UTC offset"),
        ({"next_update": 1600}, r"'next_update': expected a date and time"),
        ({"link": "nordwind-air.com/news"}, r"'link': expected an http\(s\) URL"),
        ({"link": "javascript:alert(1)"}, r"'link': expected an http\(s\) URL"),
        ({"count": "twelve"}, r"'count': expected an integer"),
        ({"count": True}, r"'count': expected an integer"),
        ({"account": "not a handle"}, r"'account': expected an account handle"),
        ({"day": "14.03.2026"}, r"'day': expected a date"),
        ({"situation": 42}, r"'situation': expected text"),
        ({"situation": "x" * 501}, r"'situation': longer than 500"),
    ],
)
def test_variables_are_checked_against_their_declared_types(
    kind: Kind, change: dict[str, object], message: str
) -> None:
    # Given the facts with one wrong / When rendered / Then the error names the variable
    with pytest.raises(VariableError, match=message):
        render(kind, "en", {**FACTS, **change})


@pytest.mark.parametrize(
    "link",
    [
        "http://127.0.0.1:8080/status",
        "https://[2001:db8::1]/news",
        "http://localhost/updates",
        "https://status.nordwind-air.com",
    ],
)
def test_any_http_url_with_a_host_is_a_link_the_link_check_then_judges(
    kind: Kind, link: str
) -> None:
    # Given a link to an IP address or a host without a TLD / When rendered / Then it stands
    assert link in render(kind, "en", {**FACTS, "link": link}).texts["x"]


def test_typed_values_are_rendered_in_the_statements_language(kind: Kind) -> None:
    rendering = render(
        kind, "en", {**FACTS, "count": "12", "account": "@NordwindAir", "day": "2026-03-14"}
    )
    assert rendering.texts["x"] == (
        "Flights from Hamburg are delayed. Next update 14 March 2026, 16:00 (UTC+1): "
        "https://nordwind-air.com/news (12 flights) @NordwindAir on 14 March 2026"
    )
    assert dict(rendering.variables) == {
        "situation": "Flights from Hamburg are delayed.",
        "next_update": "2026-03-14T16:00:00+01:00",
        "link": "https://nordwind-air.com/news",
        "count": "12",
        "account": "NordwindAir",
        "day": "2026-03-14",
    }


def test_an_unknown_language_or_channel_is_refused(kind: Kind) -> None:
    with pytest.raises(StatementError, match=r"not written in 'de' \(it is in: en\)"):
        render(kind, "de", FACTS)
    with pytest.raises(StatementError, match=r"no statement can be posted on 'reddit'"):
        render(kind, "en", FACTS, channels=["x", "reddit"])


# --- rendering ----------------------------------------------------------------------------


def test_a_missing_variable_at_render_time_is_an_error_naming_it(tmp_path: Path) -> None:
    # Given a template reading an attribute that does not exist (StrictUndefined)
    folder = write_kind(tmp_path, templates={"bluesky": "{{ situation.headline }}"})
    kind = load_kind(folder)
    # When rendered / Then an error naming the template and the attribute, no empty gap
    with pytest.raises(StatementError, match=r"bluesky\.j2: .*'headline'"):
        render(kind, "en", FACTS)


def test_an_optional_variable_printed_without_a_check_is_an_error(tmp_path: Path) -> None:
    folder = write_kind(tmp_path, templates={"x": "{{ situation }} ({{ count }} flights)"})
    with pytest.raises(StatementError, match=r"x\.j2: .*optional variable that was not given"):
        render(load_kind(folder), "en", FACTS)


def test_the_sandbox_refuses_unsafe_template_code(tmp_path: Path) -> None:
    folder = write_kind(
        tmp_path, templates={"x": "{{ situation.__class__.__mro__[1].__subclasses__() }}"}
    )
    with pytest.raises(StatementError, match=r"x\.j2"):
        render(load_kind(folder), "en", FACTS)


@pytest.mark.parametrize(
    "value",
    [
        "{{ link }}",
        "{% for x in range(10) %}boom{% endfor %}",
        "{{ ''.__class__.__mro__ }}",
        "{# comment #} @NordwindAir {{7*7}}",
        "{% raw %}{% endraw %}",
    ],
)
def test_template_syntax_in_a_value_is_text_never_a_template(kind: Kind, value: str) -> None:
    # Given a variable holding template syntax (e.g. quoted mention text)
    rendering = render(kind, "en", {**FACTS, "situation": value})
    # Then it appears verbatim, never evaluated
    assert all(text.startswith(value + " Next update") for text in rendering.texts.values())


@settings(
    max_examples=examples(300),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(
    st.text(
        alphabet=st.sampled_from([*"{}%#()[]<>@ _-.:abcXYZ0123456789äß😀"]),
        min_size=1,
        max_size=60,
    ).filter(str.strip)
)
def test_any_value_is_inserted_as_given(kind: Kind, value: str) -> None:
    # Given any text made of template syntax, mentions and letters
    rendering = render(kind, "en", {**FACTS, "situation": value})
    # Then it is rendered as given (its whitespace tidied, as every text value's is)
    assert rendering.base.startswith(" ".join(value.split()) + " Next update")


def test_texts_are_nfc_and_tidy(tmp_path: Path) -> None:
    # Given a template with NFD text and stray blank lines
    folder = write_kind(tmp_path, templates={"x": "Cafe\u0301  \n\n\n\n{{ situation }}   \n"})
    rendering = render(load_kind(folder), "en", FACTS)
    # Then NFC, no trailing spaces, at most one blank line
    assert rendering.texts["x"] == "Café\n\nFlights from Hamburg are delayed."


def test_control_and_bidi_characters_are_removed_from_values(kind: Kind) -> None:
    rendering = render(kind, "en", {**FACTS, "situation": "Delays\u202e at\u0007 Hamburg"})
    assert rendering.texts["x"].startswith("Delays at Hamburg Next update")


# --- the hash -----------------------------------------------------------------------------


def test_the_hash_covers_every_channel_in_a_documented_canonical_form(kind: Kind) -> None:
    rendering = render(kind, "en", FACTS)
    canonical = json.dumps(
        {"base": rendering.base, "texts": dict(rendering.texts)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert rendering.sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert list(rendering.texts) == list(PUBLISHING_CHANNELS)


def test_any_change_of_any_channel_changes_the_hash(kind: Kind) -> None:
    rendering = render(kind, "en", FACTS)
    texts = dict(rendering.texts)
    for channel, text in texts.items():
        changed = {**texts, channel: text + " "}
        assert statement_hash(changed, rendering.base) != rendering.sha256, channel
    assert statement_hash(texts, rendering.base + ".") != rendering.sha256
    assert statement_hash(dict(reversed(texts.items())), rendering.base) == rendering.sha256


def test_the_same_facts_render_the_same_hash(kind: Kind) -> None:
    # Given the same facts twice, the time written in another form of the same instant
    first = render(kind, "en", FACTS)
    second = render(kind, "en", {**FACTS, "next_update": "2026-03-14T16:00:00+01:00"})
    assert first.sha256 == second.sha256
    different = render(kind, "en", {**FACTS, "next_update": "2026-03-14T17:00+01:00"})
    assert different.sha256 != first.sha256
