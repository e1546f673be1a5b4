"""What every section of the config document is built from, and how its errors read.

Each section is a `Section`: a frozen pydantic model that refuses unknown keys and whose
attribute docstrings become the JSON Schema's descriptions (read when the schema is
generated, not at import: pydantic's own ``use_attribute_docstrings`` parses every
class's source at import, half of the package's import time). The scalar types below are
strict where a YAML slip would otherwise pass silently (``"5"`` is not a number, ``yes``
is not a flag), and every problem becomes one `ConfigError` naming the full key, e.g.
``channels.facebook.page_id: required`` or ``brands[2].id: must be lowercase ...``.

A rule that spans several keys (an escalation step later than the one before, a static
threshold naming a known brand) raises `problem(...)` from a model validator, with the
key it is about relative to that model, so its error names that key like any other.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    GetPydanticSchema,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from stormwatch.errors import ConfigError

DOCUMENT = "<document>"
"""The key an error names when the document as a whole is wrong (not a mapping)."""

_PROBLEM: Final = "stormwatch"
# Alternative spellings of one value (a holiday as a date or as {date, name}) are tagged
# unions; their tags are pydantic's bookkeeping, not keys anybody wrote.
FORM_TAGS: Final = frozenset({"text form", "mapping form"})


def _describe_fields(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Each property's description: the docstring under its attribute (or a base's)."""
    docs: dict[str, str] = {}
    for klass in reversed(model.__mro__):
        if issubclass(klass, Section) and klass is not Section:
            docs.update(_attribute_docstrings(klass))
    properties = schema.get("properties", {})
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in properties and name in docs:
            properties[key].setdefault("description", docs[name])


def _attribute_docstrings(cls: type) -> dict[str, str]:
    """{attribute: docstring} for each string literal right under an annotated attribute."""
    import ast
    import inspect
    import textwrap

    (definition,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
    assert isinstance(definition, ast.ClassDef)
    docs: dict[str, str] = {}
    for node, following in itertools.pairwise(definition.body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(following.value.value)
    return docs


class Section(BaseModel):
    """A mapping of the config document: known keys only, each checked, read-only.

    A key written without a value (``covers:`` in YAML) counts as not written, as it
    always has: its default applies, or "required" if it has none.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra=_describe_fields,
        # Built on first use, not at import: a handler's cold start pays only for the
        # import, and the first validation builds every validator once.
        defer_build=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _unset_empty_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        return data


def problem(message: str, *at: str | int) -> PydanticCustomError:
    """An error about the key `at` (relative to the model raising it; none: the model)."""
    return PydanticCustomError(_PROBLEM, "{problem}", {"problem": message, "at": at})


QUOTED_VALUE_CHARACTERS = 80
"""An error quotes at most this much of a bad value: enough to find it, never a page."""
MESSAGE_CHARACTERS = 300


def shown(value: object) -> str:
    """A bad value as an error quotes it: its repr, cut to `QUOTED_VALUE_CHARACTERS`."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**80:
        return f"a number of {len(str(abs(value)))} digits"
    text = repr(value)
    if len(text) <= QUOTED_VALUE_CHARACTERS:
        return text
    return text[: QUOTED_VALUE_CHARACTERS - 3] + "..."


def _bounded(message: str) -> str:
    """A message with no run of more than `QUOTED_VALUE_CHARACTERS` unbroken characters
    (a value some rule quoted whole) and no longer than `MESSAGE_CHARACTERS`, on one line."""
    limit = QUOTED_VALUE_CHARACTERS
    message = " ".join(message.split())
    message = re.sub(rf"\S{{{limit + 1},}}", lambda run: run.group()[: limit - 3] + "...", message)
    if len(message) > MESSAGE_CHARACTERS:
        message = message[: MESSAGE_CHARACTERS - 3] + "..."
    return message


def kind(value: object) -> str:
    """How an error shows the value it refused: short, never a whole section."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value)[:40]
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def key_of(location: tuple[str | int, ...]) -> str:
    """('brands', 2, 'id') -> 'brands[2].id'."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in FORM_TAGS:
            text += f".{part}" if text else str(part)
    return text or DOCUMENT


def _expected(ctx: Mapping[str, Any]) -> str:
    # pydantic lists literals as "'offline' or 'comprehend'"
    return str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")


_MESSAGES: Final[Mapping[str, Callable[[Any, Mapping[str, Any]], str]]] = {
    "missing": lambda _value, _ctx: "required",
    "extra_forbidden": lambda _value, _ctx: "unknown key (typo?)",
    "int_type": lambda value, _ctx: f"must be an integer, got {kind(value)}",
    "float_type": lambda value, _ctx: f"must be a number, got {kind(value)}",
    "bool_type": lambda value, _ctx: f"must be true or false, got {kind(value)}",
    "string_type": lambda value, _ctx: f"must be a non-empty string, got {kind(value)}",
    "string_too_short": lambda _value, _ctx: "must be a non-empty string",
    "model_type": lambda value, _ctx: f"must be a mapping, got {kind(value)}",
    "model_attributes_type": lambda value, _ctx: f"must be a mapping, got {kind(value)}",
    "dict_type": lambda value, _ctx: f"must be a mapping, got {kind(value)}",
    "list_type": lambda value, _ctx: f"must be a list, got {kind(value)}",
    "tuple_type": lambda value, _ctx: f"must be a list, got {kind(value)}",
    "frozen_set_type": lambda value, _ctx: f"must be a list, got {kind(value)}",
    "too_short": lambda _value, _ctx: "must not be empty",
    "literal_error": lambda value, ctx: f"must be one of {_expected(ctx)}, got {kind(value)}",
    "greater_than_equal": lambda value, ctx: f"must be at least {ctx['ge']}, got {shown(value)}",
    "greater_than": lambda value, ctx: f"must be above {ctx['gt']}, got {shown(value)}",
    "less_than_equal": lambda value, ctx: f"must be at most {ctx['le']}, got {shown(value)}",
    "less_than": lambda value, ctx: f"must be below {ctx['lt']}, got {shown(value)}",
    "string_too_long": lambda value, ctx: (
        f"must be at most {ctx['max_length']} characters, got {len(value)}"
    ),
}


def config_error(error: ValidationError, prefix: str = "") -> ConfigError:
    """The first of pydantic's errors as a `ConfigError` naming the full key.

    `prefix` is the key of the section that was validated ('' for the whole document).
    """
    first = error.errors(include_url=False)[0]
    ctx: Mapping[str, Any] = first.get("ctx") or {}
    location = tuple(first["loc"])
    if first["type"] == _PROBLEM:
        location += tuple(ctx.get("at", ()))
        message = str(ctx["problem"])
    elif first["type"] in _MESSAGES:
        message = _MESSAGES[first["type"]](first["input"], ctx)
    else:
        message = first["msg"]
    key = key_of(location)
    if prefix:
        key = prefix if key == DOCUMENT else f"{prefix}{'' if key[0] == '[' else '.'}{key}"
    return ConfigError(_bounded(key), _bounded(message))


def problem_error(error: PydanticCustomError, prefix: str) -> ConfigError:
    """A `problem` raised outside validation (a section read alone) as a `ConfigError`."""
    context: Mapping[str, Any] = error.context or {}
    location = (prefix, *context.get("at", ()))
    return ConfigError(
        _bounded(key_of(location)), _bounded(str(context.get("problem", error.message())))
    )


def read_as(form: Any, build: Callable[[Any, ValidationInfo], Any]) -> GetPydanticSchema:
    """Validate a key as its document `form` (what the JSON Schema shows), then `build` the
    value code uses from it: contact ids become contacts, clock texts become instants.

    `build` sees the keys validated before this one (``info.data``) and the context that
    `parse_config` passes (``info.context``: ``now`` for the roster's coverage check).
    """
    return GetPydanticSchema(
        lambda _source, handler: core_schema.with_info_after_validator_function(
            build, handler.generate_schema(form)
        )
    )


# --- scalar types -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Between:
    """A number from `low` to `high`, both included, said in one message."""

    low: float
    high: float

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), "minimum": self.low, "maximum": self.high}

    def _check(self, value: float) -> float:
        if not self.low <= value <= self.high:
            raise problem(f"must be between {self.low} and {self.high}, got {value}")
        return value


@dataclass(frozen=True, slots=True)
class Matching:
    """Text matching `pattern`; the error says what it must be, not the regex."""

    pattern: str
    what: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        compiled = re.compile(self.pattern)

        def check(value: str) -> str:
            if not compiled.match(value):
                raise problem(f"must be {self.what}, got {shown(value)}")
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), "pattern": self.pattern}


Integer = Annotated[int, Strict()]
"""A whole number as written: not "5", not 5.0, not true."""
Number = Annotated[float, Strict()]
"""A number as written (5 or 5.0): not "5", not true."""
Flag = Annotated[bool, Strict()]
"""true or false: not "yes", not 1."""
Text = Annotated[str, Strict(), StringConstraints(strip_whitespace=True, min_length=1)]
"""A non-empty string, trimmed."""
Phrase = Annotated[Text, StringConstraints(max_length=200)]
"""A name or phrase people write (a brand's name, a keyword): at most 200 characters, so
a slip (a pasted page) is an error rather than a matcher scanning it in every mention."""


def _severity(value: int) -> int:
    if value not in (1, 2, 3):
        raise problem(f"must be 1 (watch), 2 (warning) or 3 (critical), got {value}")
    return value


Severity = Annotated[
    int,
    Strict(),
    AfterValidator(_severity),
    WithJsonSchema(
        {
            "type": "integer",
            "enum": [1, 2, 3],
            "description": "1 watch (email), 2 warning (and an SMS to whoever is on call), "
            "3 critical (and the escalation contacts)",
        }
    ),
]


def distinct[T](items: tuple[T, ...], label: Callable[[T], str] = repr) -> tuple[T, ...]:
    """`items` unchanged, after refusing one that repeats an earlier one (at its index)."""
    seen: list[T] = []
    for index, item in enumerate(items):
        if item in seen:
            raise problem(f"{label(item)} is listed twice", index)
        seen.append(item)
    return items


def time_zone_name(value: str) -> str:
    """An IANA time zone name that this Python knows (tzdata ships with the runtime)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem(f"unknown time zone {value!r} (an IANA name like Europe/Berlin)") from None
    return value


TimeZoneName = Annotated[str, Strict(), AfterValidator(time_zone_name)]
