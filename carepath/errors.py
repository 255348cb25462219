"""One small exception hierarchy with stable codes, translated once at each edge.

The CLI turns these into ``PATH:LINE:COL: CODE: message`` lines and exit codes; the API (later)
turns them into problem+json. Codes are part of the contract: never rename one.

A problem's ``message`` is its English sentence; its ``text`` is the same sentence as data (a
catalogue key and the values it names), which ``carepath.engine.messages.render`` puts into
the reader's language (Chinese in the staff UI, English in the CLI unless asked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Location:
    """Where a problem is: a file as the user named it, 1-based line and column."""

    path: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Text:
    """A sentence as data: a key of the message catalogue and the values it names.

    An argument may itself be a ``Text`` (a phrase inside the sentence, translated with it).
    """

    key: str
    args: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """One located, coded finding of the compiler or a validator.

    ``text`` (when the checker gave one) is ``message`` as data, for rendering in another
    language; it takes no part in equality, so problems compare as they always did.
    """

    location: Location
    code: str
    message: str
    severity: str = "error"  # "error" or "warning"
    text: Text | None = field(default=None, compare=False, repr=False)

    @property
    def args(self) -> Mapping[str, object]:
        """The values the message names (empty when the checker gave no ``text``)."""
        return self.text.args if self.text is not None else {}

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.location}: {self.code}: {prefix}{self.message}"


class CarepathError(Exception):
    """Base of every error carepath raises on purpose; ``code`` is stable."""

    code = "carepath-error"
    #: The message as data (see ``Text``), when the raiser gave one.
    text: Text | None = None

    def __init__(self, message: str, *, code: str | None = None, text: Text | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if text is not None:
            self.text = text

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class CompileError(CarepathError):
    """A pathway, patient or events file is invalid; ``problems`` lists every finding."""

    code = "compile-error"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else None
        super().__init__(str(first) if first else "invalid input")


class DatingError(CarepathError):
    """The dating inputs cannot give an EDD (impossible dates, GA out of range)."""

    code = "bad-dating"


class EvaluationError(CarepathError):
    """The engine refused to evaluate (for example a chain of internal events too deep)."""

    code = "evaluation-error"
