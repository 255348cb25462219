"""Locate values of a parsed YAML document, so that every problem carries its line and column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

#: libyaml's loader when PyYAML was built with it (about ten times faster), else pure Python.
SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with the fastest safe loader available."""
    return yaml.load(text, Loader=SafeLoader)  # always a safe loader, never yaml.Loader


def compose(text: str) -> yaml.Node | None:
    """The node tree of a YAML text, or None if it does not parse (the loader reports that)."""
    try:
        return yaml.compose(text, Loader=SafeLoader)
    except yaml.YAMLError:
        return None


def locate(root: yaml.Node | None, path: Sequence[object], first_line: int = 1) -> tuple[int, int]:
    """The (line, column) of the deepest node reachable along ``path`` (keys and indexes).

    ``first_line`` is the file line of the text's first line (front matter starts at 2).
    """
    node = root
    line, column = first_line, 1
    for step in path:
        if node is None:
            break
        line = first_line + node.start_mark.line
        column = node.start_mark.column + 1
        node = _child(node, step)
    if node is not None:
        line = first_line + node.start_mark.line
        column = node.start_mark.column + 1
    return line, column


def _child(node: yaml.Node, step: object) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(step):
                return value_node  # type: ignore[no-any-return]
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]  # type: ignore[no-any-return]
    return None


def yaml_error_location(exc: yaml.YAMLError, first_line: int = 1) -> tuple[int, int, str]:
    """(line, column, message) of a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    if mark is None:
        return first_line, 1, str(problem)
    return first_line + mark.line, mark.column + 1, str(problem)
