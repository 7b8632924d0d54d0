"""Reading a YAML scenario into plain data plus the line of every key and item.

PyYAML's SafeLoader composes the node tree (which knows where each node starts); the
tree is then constructed by hand, node by node, so that the line of every mapping key and
sequence item can be recorded under its path. Scalars are built by SafeLoader's own
constructors (same tags, same YAML 1.1 rules). Duplicate keys are an error here, where
PyYAML would silently keep the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from harness.errors import UsageError
from harness.scenario._base import Loc
from harness.scenario.problems import field_path


@dataclass(frozen=True)
class Document:
    """The document as dicts, lists and scalars, and ``path → line`` (1-based)."""

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.lines: dict[Loc, int] = {}
        self.active: set[int] = set()  # nodes being built: an alias to one is a cycle

    def fail(self, node: yaml.Node, loc: Loc, message: str) -> UsageError:
        where = f"{self.source}:{node.start_mark.line + 1}"
        path = field_path(loc)
        return UsageError(f"{where}: {path}: {message}" if path else f"{where}: {message}")

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if id(node) in self.active:
            raise self.fail(node, loc, "an alias refers to the node that contains it")
        if isinstance(node, yaml.MappingNode):
            self.active.add(id(node))
            try:
                return self.mapping(node, loc)
            finally:
                self.active.discard(id(node))
        if isinstance(node, yaml.SequenceNode):
            self.active.add(id(node))
            try:
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            finally:
                self.active.discard(id(node))
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # merge keys (<<)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise self.fail(key_node, loc, f"key {key!r} must be text (quote it)")
            if key in result:
                raise self.fail(key_node, (*loc, key), "duplicate key")
            self.lines[(*loc, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*loc, key))
        return result


def compose(text: str, source: str) -> Document:
    """Parse ``text`` (from ``source``, for messages); YAML errors become one-line
    :class:`UsageError` with the line PyYAML points at."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise UsageError(f"{source}:1: the file is empty; see docs/scenarios.md")
        builder = _Builder(loader, source)
        data = builder.build(node, ())
        return Document(data=data, lines=builder.lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        column = f" (column {mark.column + 1})" if mark is not None else ""
        problem = " ".join(str(exc.problem or exc.context or "invalid").split())
        raise UsageError(f"{source}{line}: invalid YAML: {problem}{column}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()
