"""One small exception hierarchy with stable codes, translated once at each edge.

The CLI turns these into ``PATH:LINE:COL: CODE: message`` lines and exit codes; the API (later)
turns them into problem+json. Codes are part of the contract: never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    """Where a problem is: a file as the user named it, 1-based line and column."""

    path: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One located, coded finding of the compiler or a validator."""

    location: Location
    code: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.location}: {self.code}: {prefix}{self.message}"


class CarepathError(Exception):
    """Base of every error carepath raises on purpose; ``code`` is stable."""

    code = "carepath-error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

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
