"""Check recorded requests and answers against an operation of an OpenAPI 3.0/3.1 document.

The schemas are validated with openapi-schema-validator (OAS 3.0's ``nullable`` and friends,
OAS 3.1's JSON Schema 2020-12), with every ``$ref`` resolved inside the whole document, and
formats (``date-time``...) checked. Query parameters are deserialised as OpenAPI says
(``style``/``explode``, arrays, integers, booleans) before their schemas are applied.

Published specs are not always right about the live API. Tests fix what they know to be
wrong in a copy of the document (`Spec.patched`) and name live parameter spellings that the
spec spells differently (``aliases``), each with a comment saying why, rather than bending a
fake to the spec.

Every check returns a list of problems (empty when all is well), so a test can show all of
them at once.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator, OAS31Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4, DRAFT202012

from local.fakechannels.world import RecordedExchange

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"
_BASE_URI = "urn:stormwatch:openapi"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    definition: Mapping[str, Any]
    path_parameters: Mapping[str, str]


@dataclass
class Spec:
    """One OpenAPI document, ready to check exchanges against its operations."""

    document: dict[str, Any]
    _validators: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path) -> Spec:
        return cls(json.loads(_read(path)))

    def patched(self, *fixes: Callable[[dict[str, Any]], None]) -> Spec:
        """A copy with `fixes` applied to the document (each corrects one known spec error)."""
        document = copy.deepcopy(self.document)
        for fix in fixes:
            fix(document)
        return Spec(document)

    @property
    def is_31(self) -> bool:
        return str(self.document.get("openapi", "")).startswith("3.1")

    # --- finding things -------------------------------------------------------------

    def resolve(self, node: Any) -> Any:
        """`node` with its ``$ref`` chain followed (local references only)."""
        seen = 0
        while isinstance(node, Mapping) and "$ref" in node and seen < 32:
            node = self.pointer(node["$ref"])
            seen += 1
        return node

    def pointer(self, reference: str) -> Any:
        if not reference.startswith("#/"):
            raise ValueError(f"only local references are supported, not {reference!r}")
        node: Any = self.document
        for part in reference[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def operation(self, method: str, path: str) -> Operation:
        """The operation whose path template matches the concrete `path`."""
        for template, item in self.document["paths"].items():
            pattern = "^" + re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            found = re.match(pattern.replace("(?P<", "(?P<p_"), path)
            if found and method.lower() in item:
                values = {name[2:]: value for name, value in found.groupdict().items()}
                return Operation(method.lower(), template, item[method.lower()], values)
        raise LookupError(f"no operation {method} {path} in the spec")

    def parameters(self, operation: Operation) -> list[Mapping[str, Any]]:
        shared = self.document["paths"][operation.template].get("parameters", [])
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in [*shared, *operation.definition.get("parameters", [])]:
            parameter = self.resolve(raw)
            merged[(parameter["name"], parameter["in"])] = parameter
        return list(merged.values())

    # --- checks -------------------------------------------------------------------------

    def check_request(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str] | None = None,
        *,
        aliases: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Problems of a request: unknown or missing parameters, values not matching their
        schemas, and a missing credential for the operation's security schemes.

        Parameters the operation does not declare are reported too (OpenAPI tolerates them;
        for an adapter they are almost always a typo). `aliases` maps a live spelling to the
        spec's name.
        """
        operation = self.operation(method, path)
        where = f"{method.upper()} {operation.template}"
        aliases = aliases or {}
        declared = {(p["name"], p["in"]): p for p in self.parameters(operation)}
        problems: list[str] = []
        given: dict[str, list[str]] = {}
        for name, value in query:
            given.setdefault(aliases.get(name, name), []).append(value)
        for name in given:
            if (name, "query") not in declared:
                problems.append(f"{where}: query parameter {name!r} is not in the spec")
        for (name, location), parameter in declared.items():
            values: list[str] | None
            if location == "query":
                values = given.get(name)
            elif location == "path":
                values = [operation.path_parameters[name]]
            elif location == "header" and headers is not None:
                header = _header(headers, name)
                values = None if header is None else [header]
            else:
                continue
            if values is None:
                if parameter.get("required"):
                    problems.append(f"{where}: required {location} parameter {name!r} missing")
                continue
            problems.extend(
                f"{where}: {location} parameter {name!r}: {problem}"
                for problem in self._check_parameter(parameter, values)
            )
        if headers is not None:
            problems.extend(f"{where}: {p}" for p in self._check_security(operation, headers))
        return problems

    def check_response(
        self,
        method: str,
        path: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> list[str]:
        """Problems of an answer: undeclared status or media type, a body that does not match
        the schema, declared headers with bad values."""
        operation = self.operation(method, path)
        where = f"{method.upper()} {operation.template} -> {status}"
        responses = operation.definition.get("responses", {})
        response = responses.get(str(status)) or responses.get(f"{status // 100}XX")
        response = self.resolve(response or responses.get("default"))
        if response is None:
            return [f"{where}: status not declared"]
        problems: list[str] = []
        for name, raw in (response.get("headers") or {}).items():
            header = self.resolve(raw)
            value = _header(headers, name)
            if value is None:
                if header.get("required"):
                    problems.append(f"{where}: required header {name!r} missing")
                continue
            for problem in self._check_parameter(header, [value]):
                problems.append(f"{where}: header {name!r}: {problem}")
        content = response.get("content")
        if not content:
            return problems
        content_type = _header(headers, "content-type") or ""
        media_type = content_type.split(";")[0].strip().lower()
        if media_type not in content:
            problems.append(f"{where}: media type {media_type!r} not among {sorted(content)}")
            return problems
        schema = content[media_type].get("schema")
        if schema is None:
            return problems
        try:
            instance = json.loads(body)
        except ValueError as error:
            return [*problems, f"{where}: body is not JSON ({error})"]
        problems.extend(f"{where}: {problem}" for problem in self.check_schema(schema, instance))
        return problems

    def check_request_body(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> list[str]:
        """Problems of a request's body: a media type the operation does not take, a body
        that does not match its schema, or a required body missing. JSON and
        ``application/x-www-form-urlencoded`` bodies are read (a form's values as strings,
        repeated names as lists)."""
        operation = self.operation(method, path)
        where = f"{method.upper()} {operation.template} (body)"
        request_body = self.resolve(operation.definition.get("requestBody"))
        if not body:
            required = bool(request_body and request_body.get("required"))
            return [f"{where}: required body missing"] if required else []
        if request_body is None:
            return [f"{where}: the operation takes no body"]
        content = request_body.get("content") or {}
        media_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        if media_type not in content:
            return [f"{where}: media type {media_type!r} not among {sorted(content)}"]
        try:
            if media_type == "application/x-www-form-urlencoded":
                from urllib.parse import parse_qs

                fields = parse_qs(body.decode(), keep_blank_values=True)
                instance: Any = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
            else:
                instance = json.loads(body)
        except ValueError as error:
            return [f"{where}: body cannot be read as {media_type} ({error})"]
        schema = content[media_type].get("schema")
        if schema is None:
            return []
        return [f"{where}: {problem}" for problem in self.check_schema(schema, instance)]

    def check_requests(
        self, exchanges: Iterable[RecordedExchange], *, aliases: Mapping[str, str] | None = None
    ) -> list[str]:
        """`check_request` of every recorded request, in order."""
        return [
            problem
            for exchange in exchanges
            for problem in self.check_request(
                exchange.method, exchange.path, exchange.query, exchange.headers, aliases=aliases
            )
        ]

    def check_answers(self, exchanges: Iterable[RecordedExchange]) -> list[str]:
        """`check_response` of every recorded answer, in order."""
        return [
            problem
            for exchange in exchanges
            for problem in self.check_response(
                exchange.method,
                exchange.path,
                exchange.status,
                exchange.response_headers,
                exchange.response_body,
            )
        ]

    def check_schema(self, schema: Mapping[str, Any], instance: Any) -> list[str]:
        """Problems of `instance` against `schema` (a schema object or a ``$ref``)."""
        validator = self._validator(json.dumps(schema, sort_keys=True))
        return [
            f"at {_where(error.absolute_path)}: {error.message[:300]}"
            for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        ]

    # --- internals ---------------------------------------------------------------------------

    def _validator(self, schema_json: str) -> Any:
        validator = self._validators.get(schema_json)
        if validator is None:
            cls: Any = OAS31Validator if self.is_31 else OAS30Validator
            resource = (DRAFT202012 if self.is_31 else DRAFT4).create_resource(self.document)
            registry: Registry[Any] = Registry().with_resource(_BASE_URI, resource)
            schema = _rebase(json.loads(schema_json))
            validator = cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
            self._validators[schema_json] = validator
        return validator

    def _check_parameter(self, parameter: Mapping[str, Any], raw: list[str]) -> list[str]:
        schema = parameter.get("schema")
        if schema is None:
            return []
        target = self.resolve(schema)
        style = parameter.get("style", "form" if parameter.get("in") == "query" else "simple")
        explode = parameter.get("explode", style == "form")
        try:
            value = _deserialise(raw, target, style=style, explode=explode)
        except ValueError as error:
            return [str(error)]
        return self.check_schema(schema, value)

    def _check_security(self, operation: Operation, headers: Mapping[str, str]) -> list[str]:
        requirements = operation.definition.get("security", self.document.get("security"))
        if not requirements:
            return []
        schemes = self.document.get("components", {}).get("securitySchemes", {})
        for requirement in requirements:
            if all(_satisfies(schemes.get(name, {}), headers) for name in requirement):
                return []
        return [f"no credential for any of {[sorted(r) for r in requirements]}"]


def _satisfies(scheme: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    kind = scheme.get("type")
    authorization = _header(headers, "authorization") or ""
    if kind == "http":
        wanted = str(scheme.get("scheme", "")).lower()
        return (
            authorization.lower().startswith(wanted + " ") and len(authorization) > len(wanted) + 1
        )
    if kind in ("oauth2", "openIdConnect"):
        return authorization.lower().startswith("bearer ") and len(authorization) > 7
    if kind == "apiKey" and scheme.get("in") == "header":
        return _header(headers, str(scheme.get("name", ""))) is not None
    return False


def _deserialise(raw: list[str], schema: Mapping[str, Any], *, style: str, explode: bool) -> Any:
    kinds = _types(schema)
    if "array" in kinds:
        items = raw if explode else [part for value in raw for part in value.split(",")]
        item_schema = schema.get("items", {})
        return [_scalar(item, _types(item_schema)) for item in items]
    if len(raw) > 1:
        raise ValueError(f"given {len(raw)} times, but it is not an array")
    return _scalar(raw[0], kinds)


def _scalar(value: str, kinds: Iterable[str]) -> Any:
    kinds = set(kinds)
    if "integer" in kinds:
        if not re.fullmatch(r"-?\d+", value):
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    if "boolean" in kinds:
        if value not in ("true", "false"):
            raise ValueError(f"{value!r} is not true or false")
        return value == "true"
    return value


def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return {str(k) for k in kind}
    return {str(kind)} if kind else set()


def _rebase(node: Any) -> Any:
    """Point local references at the registered document, so a schema taken out of the
    document still resolves ``#/components/...`` inside it."""
    if isinstance(node, dict):
        return {
            key: (_BASE_URI + value if key == "$ref" and value.startswith("#") else _rebase(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rebase(item) for item in node]
    return node


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _where(path: Iterable[Any]) -> str:
    return "/" + "/".join(str(part) for part in path)
