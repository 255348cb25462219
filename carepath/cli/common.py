"""What every command shares: the app (and through it the store), the matcher choice, dates on
the command line, and the one way problems and errors become output and exit codes.

Errors are translated here, once: located problems print as ``PATH:LINE:COL: CODE: message``
(``print_problems``) and exit 1; an error with no location prints ``error: CODE: message`` and
exits 1 (``fail``); usage errors exit 2 (click's own convention).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from carepath.errors import CarepathError
    from carepath.store.scope import Actor

#: The exit code of a command that found something invalid (problems, a refused value).
EXIT_INVALID = 1

#: Kept in step with ``carepath.engine.matchers.MATCHER_KINDS`` (a test checks), so that
#: ``carepath --help`` need not import the engine.
MATCHER_KINDS = ("compiled", "durable")


def matcher_kind(ctx: click.Context | None = None) -> str:
    """The matcher every command hands to ``Library``: ``--matcher`` or ``CAREPATH_MATCHER``.

    The environment is read here, at the CLI edge, never by the engine.
    """
    ctx = ctx or click.get_current_context()
    return str(ctx.meta.get("carepath.matcher", "compiled"))


class IsoDate(click.ParamType):
    """A calendar date written ``YYYY-MM-DD``; impossible dates (2026-02-30) are usage errors."""

    name = "date"
    _shape = re.compile(r"\d{4}-\d{2}-\d{2}")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        if not self._shape.fullmatch(str(value)):
            self.fail(f"{value!r} is not a date; write YYYY-MM-DD", param, ctx)
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            self.fail(f"{value!r} is not a calendar date: {exc}", param, ctx)


ISO_DATE = IsoDate()


def load_app() -> Any:
    """The Flask app as ``carepath serve`` builds it: its config, store and cipher. Imported
    here, not at the top, so that ``carepath --help`` does not import the web app."""
    from carepath.webapi import create_app

    app = create_app()
    # The command's connections are closed when it ends, not left to the garbage collector: a
    # process ends anyway, but a command run in-process (tests, a script calling ``main``) must
    # not leave a pool open behind it (psycopg warns when it finalises an open connection).
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(app.extensions["carepath.db"].dispose)
    return app


def cli_actor(hospital_id: str) -> Actor:
    """Who the audit trail names for a change made at this terminal."""
    import getpass

    from carepath.store.scope import Actor

    return Actor(hospital_id, "cli", getpass.getuser())


#: The languages diagnostics can be printed in: English (the default, what scripts parse) and
#: Chinese, from the same catalogue the staff pages use.
LANGS = ("en", "zh")


def _remember_lang(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.meta["carepath.lang"] = value
    return value


#: ``--lang zh`` on the commands that print diagnostics: their messages in Chinese. The code and
#: the location stay as they are, so a line still reads ``PATH:LINE:COL: CODE: message``.
lang_option = click.option(
    "--lang",
    type=click.Choice(LANGS),
    default="en",
    show_default=True,
    expose_value=False,
    is_eager=True,
    callback=_remember_lang,
    help="Language of the messages (zh: Chinese).",
)


def output_lang() -> str:
    """The ``--lang`` of the running command (English when it has none)."""
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get("carepath.lang", "en")) if ctx else "en"


def print_problems(problems: Iterable[object], *, err: bool = False) -> None:
    """Print each problem on its own line: the one place every command's diagnostics pass.

    Compiler and lint problems (``carepath.errors.Problem``) read ``PATH:LINE:COL: CODE:
    message``, in the command's ``--lang``; settings problems ``SETTING: CODE: message``; lines
    already located by their caller are strings.
    """
    from carepath.errors import Problem

    lang = output_lang()
    format_problem = None
    if lang != "en":  # the catalogue lives with the web app's translations: import it only then
        from carepath.webapi.common.diagnostics_text import format_problem
    for problem in problems:
        if format_problem is not None and isinstance(problem, Problem):
            click.echo(format_problem(problem, lang), err=err)
        else:
            click.echo(str(problem), err=err)


def fail_with(problems: Iterable[object]) -> NoReturn:
    """Print the problems on stderr and exit 1."""
    print_problems(problems, err=True)
    sys.exit(EXIT_INVALID)


def fail(code: str, message: str) -> NoReturn:
    """An error with no place in a file: ``error: CODE: message`` on stderr, exit 1."""
    click.echo(f"error: {code}: {message}", err=True)
    sys.exit(EXIT_INVALID)


def fail_on(error: CarepathError) -> NoReturn:
    """A carepath error the command cannot go on from, printed as ``fail`` prints."""
    fail(error.code, error.message)
