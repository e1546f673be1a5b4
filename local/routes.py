"""An HTTP API's routes, as the template deploys them, and API Gateway's choice among them.

The local stack creates no HTTP API (moto cannot put one before in-process handlers), so
the local transport asks this table which function a request reaches: the one whose route
API Gateway would select. The routes come from the translated template's OpenAPI body,
which SAM writes from each function's `HttpApi` events and which is what API Gateway
itself is given, so a route moved between functions in template.yaml moves here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ANY_METHOD = "ANY"
DEFAULT_ROUTE = "$default"
_OPENAPI_ANY = "x-amazon-apigateway-any-method"
_INTEGRATION = "x-amazon-apigateway-integration"
_FUNCTION_ARN = re.compile(r"\$\{(?P<function>[A-Za-z0-9]+)\.Arn\}")
_VARIABLE = re.compile(r"^\{(?P<name>[^}+]+)(?P<greedy>\+?)\}$")

# How specific a path segment is: API Gateway prefers a literal to a variable, and a
# variable to a greedy one ({proxy+}).
_LITERAL, _VARIABLE_SEGMENT, _GREEDY = 2, 1, 0


@dataclass(frozen=True, slots=True)
class HttpRoute:
    method: str
    """Upper case, or ANY."""
    path: str
    """As the template names it: `/statements/{id}/release`, or `$default`."""
    function: str
    """The logical id of the function it integrates with."""
    authorizer: str | None = None
    """The logical id of its JWT authorizer; None for a route that needs none (or that an
    API-wide IAM authorization guards, as the Act API's body says)."""

    @property
    def key(self) -> str:
        """API Gateway's `routeKey`."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> tuple[tuple[int, ...], dict[str, str]] | None:
        """How specifically this route matches the request (higher is more specific), and
        the path parameters; None when it does not match."""
        if self.method not in (method.upper(), ANY_METHOD):
            return None
        method_rank = 1 if self.method == method.upper() else 0
        if self.path == DEFAULT_ROUTE:
            return (-1, method_rank), {}
        matched = _match_path(_segments(self.path), _segments(path))
        if matched is None:
            return None
        ranks, parameters = matched
        return (*ranks, method_rank), parameters


def _match_path(wanted: list[str], given: list[str]) -> tuple[list[int], dict[str, str]] | None:
    ranks: list[int] = []
    parameters: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        variable = _VARIABLE.match(segment)
        if variable and variable["greedy"]:
            # {proxy+} is last and takes one segment or more
            if index != len(wanted) - 1 or index >= len(given):
                return None
            parameters[variable["name"]] = "/".join(given[index:])
            ranks.append(_GREEDY)
            return ranks, parameters
        if index >= len(given) or not (variable or segment == given[index]):
            return None
        if variable:
            parameters[variable["name"]] = given[index]
        ranks.append(_VARIABLE_SEGMENT if variable else _LITERAL)
    return (ranks, parameters) if len(given) == len(wanted) else None


@dataclass(frozen=True, slots=True)
class SelectedRoute:
    route: HttpRoute
    path_parameters: Mapping[str, str]


class RouteTable:
    """One HTTP API's routes."""

    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        self.routes = tuple(routes)

    def select(self, method: str, path: str) -> SelectedRoute | None:
        """The route API Gateway would pick for `method path` (no query string): the most
        specific match, segment by segment from the left; None when nothing matches (the
        API's 404)."""
        best: tuple[tuple[int, ...], SelectedRoute] | None = None
        for route in self.routes:
            matched = route.match(method, path)
            if matched is None:
                continue
            rank, parameters = matched
            if best is None or rank > best[0]:
                best = (rank, SelectedRoute(route, parameters))
        return best[1] if best else None

    def of(self, function: str) -> tuple[HttpRoute, ...]:
        return tuple(route for route in self.routes if route.function == function)


def routes_of(template: Mapping[str, Any], api: str) -> RouteTable:
    """The routes of the HTTP API `api` (logical id) in a translated template: from its
    OpenAPI body (SAM's HttpApi) or, for an API without one, its Route resources."""
    resource = template["Resources"][api]
    if resource["Type"] != "AWS::ApiGatewayV2::Api":
        raise ValueError(f"{api} is no HTTP API but {resource['Type']}")
    if "Body" not in resource["Properties"]:
        return _route_resources(template, api)
    paths = resource["Properties"]["Body"]["paths"]
    routes = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            uri = operation[_INTEGRATION]["uri"]
            text = uri.get("Fn::Sub") if isinstance(uri, Mapping) else uri
            if isinstance(text, list):  # Fn::Sub's [text, variables] form
                text = text[0]
            found = _FUNCTION_ARN.search(str(text))
            if found is None:
                raise ValueError(f"{method.upper()} {path}: no function in its integration {uri}")
            routes.append(
                HttpRoute(
                    ANY_METHOD if method == _OPENAPI_ANY else method.upper(),
                    path,
                    found["function"],
                )
            )
    return RouteTable(routes)


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def _route_resources(template: Mapping[str, Any], api: str) -> RouteTable:
    resources = template["Resources"]
    routes = []
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] != "AWS::ApiGatewayV2::Route" or properties["ApiId"] != {"Ref": api}:
            continue
        target = str(properties["Target"].get("Fn::Sub", properties["Target"]))
        found = re.fullmatch(r"integrations/\$\{(?P<integration>[A-Za-z0-9]+)\}", target)
        if found is None:
            raise ValueError(f"{logical_id}: a target the local stack cannot follow: {target}")
        uri = resources[found["integration"]]["Properties"]["IntegrationUri"]
        function = uri["Fn::GetAtt"][0] if isinstance(uri, Mapping) else None
        if function is None:
            raise ValueError(f"{logical_id}: no function in its integration {uri}")
        method, _, path = str(properties["RouteKey"]).partition(" ")
        authorizer = properties.get("AuthorizerId")
        routes.append(
            HttpRoute(
                ANY_METHOD if method == "ANY" else method.upper(),
                path or method,
                function,
                authorizer["Ref"]
                if properties.get("AuthorizationType") == "JWT" and isinstance(authorizer, Mapping)
                else None,
            )
        )
    return RouteTable(routes)
