"""A small validator for AT Protocol lexicons (the Bluesky API's schema language).

It covers what the lexicons of the XRPC methods stormwatch calls use: objects, strings
with formats and length limits (UTF-8 bytes and graphemes), integers, booleans,
arrays, refs (``nsid#def`` and ``#local``), unions by ``$type``, unknown, blob,
cid-link, bytes, tokens, query ``params``, and the ``input``/``output`` bodies of
queries and procedures.

Lexicons are open by design: objects may carry fields the schema does not list, a
union may hold a ``$type`` it does not name unless it is ``closed``, and
``knownValues`` are suggestions. With ``strict=True`` all three are errors, which is
what a fake we write ourselves should satisfy. Errors are strings naming the JSON path.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from local.fakechannels.graphemes import graphemes

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs" / "bluesky" / "lexicons"

_DATETIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$")
_HANDLE = re.compile(
    r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
_NSID = re.compile(
    r"^[a-zA-Z]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?)+"
    r"\.[a-zA-Z]([a-zA-Z0-9]{0,62})?$"
)
_RECORD_KEY = re.compile(r"^[a-zA-Z0-9_~.:-]{1,512}$")
_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_CID = re.compile(r"^[a-zA-Z0-9+=]{8,256}$")
_LANGUAGE = re.compile(r"^(i|[a-z]{2,3})(-[a-zA-Z0-9]+)*$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")


def _is_datetime(value: str) -> bool:
    if not _DATETIME.match(value) or value.endswith("-00:00"):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_at_uri(value: str) -> bool:
    if not value.startswith("at://") or len(value) > 8192:
        return False
    body, _, _fragment = value[5:].partition("#")
    parts = body.split("/")
    if not (_DID.match(parts[0]) or _HANDLE.match(parts[0])):
        return False
    if len(parts) > 1 and not _NSID.match(parts[1]):
        return False
    if len(parts) > 2 and (not _RECORD_KEY.match(parts[2]) or parts[2] in (".", "..")):
        return False
    return len(parts) <= 3


FORMATS: dict[str, Callable[[str], bool]] = {
    "datetime": _is_datetime,
    "did": lambda v: len(v) <= 2048 and bool(_DID.match(v)),
    "handle": lambda v: len(v) <= 253 and bool(_HANDLE.match(v)),
    "at-identifier": lambda v: bool(_DID.match(v) or _HANDLE.match(v)),
    "at-uri": _is_at_uri,
    "nsid": lambda v: len(v) <= 317 and bool(_NSID.match(v)),
    "cid": lambda v: bool(_CID.match(v)),
    "uri": lambda v: len(v) <= 8192 and bool(_URI.match(v)),
    "language": lambda v: bool(_LANGUAGE.match(v)),
    "tid": lambda v: bool(_TID.match(v)),
    "record-key": lambda v: bool(_RECORD_KEY.match(v)) and v not in (".", ".."),
}


@dataclass(frozen=True, slots=True)
class Definition:
    nsid: str
    name: str
    schema: dict[str, Any]

    @property
    def type_name(self) -> str:
        """The ``$type`` a value of this definition carries."""
        return self.nsid if self.name == "main" else f"{self.nsid}#{self.name}"


class Lexicons:
    """The lexicon files below `root`, loaded on demand."""

    def __init__(self, root: Path = SPECS) -> None:
        self.root = root

    def document(self, nsid: str) -> dict[str, Any]:
        return _load(self.root / (nsid.replace(".", "/") + ".json"))

    def definition(self, ref: str, context: str | None = None) -> Definition:
        """Resolve ``nsid``, ``nsid#name`` or ``#name`` (within `context`)."""
        nsid, _, name = ref.partition("#")
        if not nsid:
            if context is None:
                raise ValueError(f"local ref {ref!r} without a context")
            nsid = context
        document = self.document(nsid)
        schema = document["defs"].get(name or "main")
        if schema is None:
            raise KeyError(f"{nsid} has no definition {name or 'main'!r}")
        return Definition(nsid, name or "main", schema)

    # --- entry points -----------------------------------------------------------------

    def validate(self, value: Any, ref: str, *, strict: bool = False) -> list[str]:
        """Errors of `value` against a definition (a record validates its record object)."""
        definition = self.definition(ref)
        schema = definition.schema
        if schema["type"] == "record":
            schema = schema["record"]
        return _Check(self, strict).value(value, schema, definition.nsid, "$")

    def validate_output(self, nsid: str, body: Any, *, strict: bool = False) -> list[str]:
        output = self.definition(nsid).schema.get("output")
        if output is None or "schema" not in output:
            return [] if body in (None, b"", "") else ["$: method has no output"]
        return _Check(self, strict).value(body, output["schema"], nsid, "$")

    def validate_input(self, nsid: str, body: Any, *, strict: bool = False) -> list[str]:
        definition = self.definition(nsid)
        if definition.schema["type"] != "procedure":
            return [f"{nsid} is a {definition.schema['type']}, which takes no input"]
        schema = definition.schema.get("input", {}).get("schema")
        if schema is None:
            return [] if body is None else ["$: method takes no input"]
        return _Check(self, strict).value(body, schema, nsid, "$")

    def validate_params(
        self, nsid: str, pairs: Sequence[tuple[str, str]], *, strict: bool = False
    ) -> list[str]:
        """Errors of query-string `pairs` (as sent) against the method's ``parameters``."""
        definition = self.definition(nsid)
        params = definition.schema.get("parameters") or {"type": "params", "properties": {}}
        return _Check(self, strict).params(pairs, params, nsid)

    def encoding(self, nsid: str, part: str) -> str | None:
        body = self.definition(nsid).schema.get(part)
        return body.get("encoding") if isinstance(body, dict) else None


@cache
def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


class _Check:
    def __init__(self, lexicons: Lexicons, strict: bool) -> None:
        self.lexicons = lexicons
        self.strict = strict

    def value(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        kind = schema.get("type")
        method = getattr(self, "_" + str(kind).replace("-", "_"), None)
        if method is None:
            return [f"{path}: the validator does not know type {kind!r}"]
        errors: list[str] = method(value, schema, context, path)
        return errors

    # --- containers -------------------------------------------------------------------

    def _object(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {_kind(value)}"]
        errors = []
        properties: dict[str, Any] = schema.get("properties", {})
        nullable = set(schema.get("nullable", []))
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}: missing required field {name!r}")
        for name, item in value.items():
            if name == "$type":
                continue
            if name not in properties:
                if self.strict:
                    errors.append(f"{path}: unexpected field {name!r}")
                continue
            if item is None and name in nullable:
                continue
            errors += self.value(item, properties[name], context, f"{path}.{name}")
        return errors

    def _array(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {_kind(value)}"]
        errors = _bounds(path, len(value), schema, "minLength", "maxLength", "items")
        for index, item in enumerate(value):
            errors += self.value(item, schema["items"], context, f"{path}[{index}]")
        return errors

    def _ref(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        target = self.lexicons.definition(schema["ref"], context)
        if target.schema["type"] == "token":
            if value != target.type_name:
                return [f"{path}: expected the token {target.type_name!r}, got {value!r}"]
            return []
        declared = value.get("$type") if isinstance(value, dict) else None
        if declared is not None and _normal(str(declared)) != target.type_name:
            return [f"{path}: $type {declared!r} where {target.type_name!r} belongs"]
        inner = target.schema["record"] if target.schema["type"] == "record" else target.schema
        return self.value(value, inner, target.nsid, path)

    def _union(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected an object of a union, got {_kind(value)}"]
        type_name = value.get("$type")
        if not isinstance(type_name, str):
            return [f"{path}: a union member needs a $type"]
        members = {self.lexicons.definition(ref, context).type_name: ref for ref in schema["refs"]}
        ref = members.get(_normal(type_name))
        if ref is None:
            if schema.get("closed") or self.strict:
                return [f"{path}: $type {type_name!r} is not one of {sorted(members)}"]
            return []
        return self._ref(value, {"type": "ref", "ref": ref}, context, path)

    def _params(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected parameters, got {_kind(value)}"]
        return self.params(list(value.items()), schema, context)

    def params(
        self, pairs: Sequence[tuple[str, str]], schema: dict[str, Any], nsid: str
    ) -> list[str]:
        given: dict[str, list[str]] = {}
        for name, text in pairs:
            given.setdefault(name, []).append(text)
        properties: dict[str, Any] = schema.get("properties", {})
        errors = [
            f"params: missing required parameter {name!r}"
            for name in schema.get("required", [])
            if name not in given
        ]
        for name, texts in given.items():
            prop = properties.get(name)
            if prop is None:
                errors.append(f"params: unknown parameter {name!r}")
                continue
            if prop["type"] != "array" and len(texts) > 1:
                errors.append(f"params.{name}: given {len(texts)} times, but is not an array")
                continue
            if prop["type"] == "array":
                items = [_param_value(text, prop["items"]) for text in texts]
                errors += self._array(items, prop, nsid, f"params.{name}")
            else:
                errors += self.value(_param_value(texts[0], prop), prop, nsid, f"params.{name}")
        return errors

    # --- scalars ----------------------------------------------------------------------

    def _string(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {_kind(value)}"]
        errors = _bounds(
            path, len(value.encode("utf-8")), schema, "minLength", "maxLength", "bytes"
        )
        errors += _bounds(
            path, graphemes(value), schema, "minGraphemes", "maxGraphemes", "graphemes"
        )
        errors += _choices(path, value, schema, self.strict)
        check = FORMATS.get(schema.get("format", ""))
        if "format" in schema and check is None:
            errors.append(f"{path}: the validator does not know format {schema['format']!r}")
        elif check is not None and not check(value):
            errors.append(f"{path}: {value[:80]!r} is not a valid {schema['format']}")
        return errors

    def _integer(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: expected an integer, got {_kind(value)}"]
        errors = []
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} is above the maximum {schema['maximum']}")
        return errors + _choices(path, value, schema, self.strict)

    def _boolean(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if not isinstance(value, bool):
            return [f"{path}: expected a boolean, got {_kind(value)}"]
        return _choices(path, value, schema, self.strict)

    def _null(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        return [] if value is None else [f"{path}: expected null, got {_kind(value)}"]

    def _unknown(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        # Data-model objects only; what is inside is checked by whoever knows its $type.
        return (
            [] if isinstance(value, dict) else [f"{path}: expected an object, got {_kind(value)}"]
        )

    def _bytes(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if not isinstance(value, dict) or set(value) != {"$bytes"}:
            return [f"{path}: expected {{'$bytes': base64}}, got {_kind(value)}"]
        try:
            raw = base64.b64decode(value["$bytes"] + "=" * (-len(value["$bytes"]) % 4))
        except (ValueError, TypeError):
            return [f"{path}: $bytes is not base64"]
        return _bounds(path, len(raw), schema, "minLength", "maxLength", "bytes")

    def _cid_link(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if not isinstance(value, dict) or set(value) != {"$link"}:
            return [f"{path}: expected {{'$link': cid}}, got {_kind(value)}"]
        link = value["$link"]
        return [] if isinstance(link, str) and _CID.match(link) else [f"{path}: $link is no CID"]

    def _blob(self, value: Any, schema: dict[str, Any], context: str, path: str) -> list[str]:
        if not isinstance(value, dict) or value.get("$type") != "blob":
            return [f"{path}: expected a blob ($type 'blob'), got {_kind(value)}"]
        errors = self._cid_link(value.get("ref"), {}, context, f"{path}.ref")
        mime, size = value.get("mimeType"), value.get("size")
        if not isinstance(mime, str) or "/" not in mime:
            errors.append(f"{path}.mimeType: expected a MIME type")
        elif schema.get("accept") and not any(
            _mime_matches(mime, pattern) for pattern in schema["accept"]
        ):
            errors.append(f"{path}.mimeType: {mime!r} is not accepted")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            errors.append(f"{path}.size: expected a byte count")
        elif "maxSize" in schema and size > schema["maxSize"]:
            errors.append(f"{path}.size: {size} is above the maximum {schema['maxSize']}")
        return errors


def _normal(type_name: str) -> str:
    return type_name.removesuffix("#main")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _bounds(
    path: str, size: int, schema: dict[str, Any], low: str, high: str, unit: str
) -> list[str]:
    errors = []
    if low in schema and size < schema[low]:
        errors.append(f"{path}: {size} {unit}, fewer than {low} {schema[low]}")
    if high in schema and size > schema[high]:
        errors.append(f"{path}: {size} {unit}, more than {high} {schema[high]}")
    return errors


def _choices(path: str, value: Any, schema: dict[str, Any], strict: bool) -> list[str]:
    if "const" in schema and value != schema["const"]:
        return [f"{path}: {value!r} is not the constant {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    if strict and "knownValues" in schema and value not in schema["knownValues"]:
        return [f"{path}: {value!r} is not a known value {schema['knownValues']}"]
    return []


def _param_value(text: str, schema: dict[str, Any]) -> Any:
    """A query-string value in the type the parameter declares (left as text if it fails)."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def _mime_matches(mime: str, pattern: str) -> bool:
    if pattern == "*/*":
        return True
    if pattern.endswith("/*"):
        return mime.startswith(pattern[:-1])
    return mime == pattern


def errors_of(checks: Iterable[tuple[str, list[str]]]) -> list[str]:
    """Flatten (label, errors) pairs into one list of labelled errors, for assertions."""
    return [f"{label}: {error}" for label, errors in checks for error in errors]
