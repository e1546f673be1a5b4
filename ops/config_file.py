"""Reading a config file people wrote (YAML or JSON): a one-line error for anything
hostile or broken, never a hang or a traceback.

PyYAML's safe loader still expands aliases (a "billion laughs" of nine aliases of nine
aliases... is a few hundred bytes and 387 million values), builds integers of any length
(Python refuses to print one of more than 4,300 digits), and composes nested
collections recursively (3,000 levels end in a RecursionError). So the file is composed
with a depth limit, the composed graph is measured as it would expand before anything is
built from it, and integers are built only when short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stormwatch.config.document import (
    MAX_DEPTH,
    MAX_NUMBER_CHARACTERS,
    check_depth,
    document_from_json,
)
from stormwatch.config.fields import DOCUMENT
from stormwatch.errors import ConfigError

MAX_VALUES = 100_000
"""Values the document may expand to: a large config has a few thousand."""


class _BoundedLoader(yaml.SafeLoader):
    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ConfigError(DOCUMENT, f"nested deeper than {MAX_DEPTH} levels")
            return Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: ScalarNode) -> int:
        digits = str(node.value).replace("_", "").lstrip("+-")
        if len(digits) > MAX_NUMBER_CHARACTERS:
            raise ConfigError(
                DOCUMENT,
                f"line {node.start_mark.line + 1}: a number of {len(digits)} digits: "
                f"at most {MAX_NUMBER_CHARACTERS}",
            )
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor(
    "tag:yaml.org,2002:int",
    _BoundedLoader.construct_yaml_int,
)


def expanded_values(root: Node) -> int:
    """How many values the node graph becomes once its aliases are expanded, counted once
    per distinct node (aliases share nodes), without recursion and without expanding."""
    order: list[Node] = []
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        pending.extend(_children(node))
    size: dict[int, int] = {}
    # Children are measured before parents: reversed discovery order does not ensure it
    # for shared nodes, so repeat until stable (a DAG settles within its depth; a node
    # that contains itself never does, and expands without end).
    for _ in range(MAX_DEPTH + 2):
        changed = False
        for node in reversed(order):
            total = 1 + sum(size.get(id(child), 1) for child in _children(node))
            if size.get(id(node)) != total:
                size[id(node)] = total
                changed = True
        if not changed:
            return size[id(root)]
    return MAX_VALUES + 1


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _flow_depth(text: str) -> int:
    """The deepest nesting of [ and { in `text`, outside quotes and comments: a linear
    over-estimate (a bracket in a plain scalar counts too) that is only ever compared with
    a limit no real document comes near."""
    depth = deepest = 0
    quote = ""
    comment = False
    for character in text:
        if comment:
            comment = character != "\n"
        elif quote:
            if character == quote:
                quote = ""
        elif character in "\"'":
            quote = character
        elif character == "#":
            comment = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth = max(0, depth - 1)
    return deepest


def read_document(path: Path) -> Any:
    """The file's document, or a one-line `ConfigError` (its line, never its content)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(DOCUMENT, f"cannot read {path}: {error.__class__.__name__}") from None
    if path.suffix == ".json":
        return document_from_json(text)
    if _flow_depth(text) > MAX_DEPTH:
        # Before PyYAML: its scanner spends quadratic time on deep [ and { nesting
        # before the composer's limit is ever reached.
        raise ConfigError(DOCUMENT, f"nested deeper than {MAX_DEPTH} levels")
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if expanded_values(root) > MAX_VALUES:
            raise ConfigError(
                DOCUMENT, f"expands to more than {MAX_VALUES:,} values (aliases repeating aliases?)"
            )
        document = loader.construct_document(root)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        what = getattr(error, "problem", None) or "cannot be parsed"
        raise ConfigError(DOCUMENT, f"not valid YAML: {what}{where}") from None
    except RecursionError:
        raise ConfigError(DOCUMENT, f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    check_depth(document)  # aliases of aliases nest deeper than the text shows
    return document
