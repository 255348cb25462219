"""The ``carepath`` command line: one root group, noun/verb subgroups.

Heavy imports live inside the commands so that ``carepath --help`` stays fast. Errors are
translated here, once: located problems print as ``PATH:LINE:COL: CODE: message`` and exit 1;
usage errors exit 2 (click's own convention).
"""

from __future__ import annotations

import sys

import click

EXIT_INVALID = 1


@click.group()
@click.version_option(package_name="carepath")
def cli() -> None:
    """carepath: care pathways for the pregnancy school and prenatal care."""


@cli.group()
def pathway() -> None:
    """Validate, dry-run and simulate pathways."""


def main() -> None:
    """Console entry point."""
    cli(prog_name="carepath")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli())
