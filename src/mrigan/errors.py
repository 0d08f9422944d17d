"""Errors that the CLI turns into one clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path


class MriganError(Exception):
    """Base class for errors a user can fix; `kind` names the kind of error in the CLI's message."""

    kind = "error"


class InputError(MriganError):
    """A file given by the user cannot be used.

    Args:
        path: the offending file or folder.
        problem: what is wrong with it, in a few words.
    """

    kind = "input error"

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class OutputError(MriganError):
    """An output cannot be written where asked (it exists, or it is the input)."""

    kind = "output error"

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class UsageError(MriganError):
    """Options that do not make sense together or cannot be parsed."""

    kind = "usage error"

