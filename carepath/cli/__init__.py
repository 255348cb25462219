"""The ``carepath`` command line: one root group, noun/verb subgroups, one module per noun.

The tree is assembled here and nowhere else: each module defines its group (or command) and
its verbs; this module adds them to the root. Heavy imports live inside the commands so that
``carepath --help`` stays fast. Errors are translated once, in ``common.py``: located problems
print as ``PATH:LINE:COL: CODE: message`` (``print_problems``) and exit 1; usage errors exit 2
(click's own convention).
"""

from __future__ import annotations

import click

from carepath.cli.apikey import apikey
from carepath.cli.audit import audit
from carepath.cli.cohort import pathway_impact, pathway_simulate
from carepath.cli.common import MATCHER_KINDS, matcher_kind
from carepath.cli.content import content
from carepath.cli.dating import dating
from carepath.cli.db import db
from carepath.cli.delivery import delivery
from carepath.cli.demo import demo
from carepath.cli.hospital import hospital
from carepath.cli.hospital_settings import settings as hospital_settings
from carepath.cli.icd10 import icd10
from carepath.cli.inbox import inbox
from carepath.cli.library import library
from carepath.cli.pathway import pathway
from carepath.cli.qr import qr
from carepath.cli.scheduler import scheduler_command
from carepath.cli.serve import serve
from carepath.cli.staff import staff
from carepath.cli.tasks import tasks
from carepath.cli.team import team
from carepath.cli.worker import worker_command

__all__ = ["MATCHER_KINDS", "cli", "main", "matcher_kind"]


@click.group()
@click.version_option(package_name="carepath")
@click.option(
    "--matcher",
    type=click.Choice(MATCHER_KINDS),
    default="compiled",
    show_default=True,
    envvar="CAREPATH_MATCHER",
    show_envvar=True,
    help="Which matcher evaluates conditions (both must agree; durable is the cross-check).",
)
@click.pass_context
def cli(ctx: click.Context, matcher: str) -> None:
    """carepath: care pathways for the pregnancy school and prenatal care."""
    ctx.meta["carepath.matcher"] = matcher


pathway.add_command(pathway_simulate)
pathway.add_command(pathway_impact)
hospital.add_command(hospital_settings)

for noun in (
    pathway,
    dating,
    db,
    hospital,
    apikey,
    staff,
    team,
    tasks,
    inbox,
    icd10,
    demo,
    delivery,
    serve,
    scheduler_command,
    worker_command,
    content,
    library,
    qr,
    audit,
):
    cli.add_command(noun)


def main() -> None:
    """Console entry point."""
    cli(prog_name="carepath")
