"""The command tree stays what operators and scripts know: every command, subcommand, argument
and option (with its type, default and flags) is compared with ``command_tree.txt``, a snapshot
taken from the one-module ``cli.py`` before it became a package and checked by hand. A command or
option lost in a refactoring fails here. Help texts are not part of the snapshot (they are prose;
the commands' own tests read what matters in them).

To accept an intended change, regenerate and review the diff:
``.venv/bin/python -c "from tests.cli.test_command_tree import tree; print(tree(), end='')"
> tests/cli/command_tree.txt``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from carepath.cli import cli

SNAPSHOT = Path(__file__).with_name("command_tree.txt")

#: How a parameter type is written: its name, and what narrows it (choices, range, path rules).
_TYPE_DETAILS = ("choices", "min", "max", "exists", "file_okay", "dir_okay")


def _type(param_type: click.ParamType) -> str:
    info: dict[str, Any] = param_type.to_info_dict()
    details = [
        f"{key}={'|'.join(info[key]) if key == 'choices' else info[key]}"
        for key in _TYPE_DETAILS
        if key in info and info[key] is not None
    ]
    return str(info["param_type"]) + (f"({', '.join(details)})" if details else "")


def _param(param: click.Parameter) -> str:
    names = "/".join(param.opts + param.secondary_opts)
    words = [
        param.param_type_name,
        names,
        f"dest={param.name}",
        _type(param.type),
        f"nargs={param.nargs}",
    ]
    if param.required:
        words.append("required")
    if param.multiple:
        words.append("multiple")
    if isinstance(param, click.Option):
        if param.is_flag:
            words.append("flag")
        if param.envvar:
            words.append(f"envvar={param.envvar}")
        if param.show_default:
            words.append("show-default")
        if param.hidden:
            words.append("hidden")
    default = param.default
    unset = default is None or default is False or default == () or repr(default).startswith("Sentinel.")
    if not unset:  # click 8.2+ marks "no default" with a sentinel, older versions with None
        words.append(f"default={default!r}")
    return "  " + " ".join(words)


def _walk(command: click.Command, path: list[str]) -> list[str]:
    lines = [" ".join(["carepath", *path]) + (" (group)" if isinstance(command, click.Group) else "")]
    lines += [_param(param) for param in command.params]
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            assert sub is not None
            lines += _walk(sub, [*path, name])
    return lines


def tree() -> str:
    """The command tree, one line per command and one per parameter, in `--help` order."""
    return "\n".join(_walk(cli, [])) + "\n"


def test_the_command_tree_matches_the_snapshot() -> None:
    assert tree() == SNAPSHOT.read_text(encoding="utf-8")
