"""Errors that carry the exit code of the project's convention (docs/interfaces.md).

Bad input must end in one clear line naming the file, never in a traceback, so every
loader raises one of these and the pytest plugin turns it into `pytest.exit(..., code)`.
"""

from __future__ import annotations

from os import EX_DATAERR, EX_NOINPUT, EX_USAGE  # sysexits.h (importers use these names)


class InputError(Exception):
    """An input file or option is unusable; `exit_code` follows sysexits.h."""

    exit_code = EX_DATAERR

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class MissingInput(InputError):
    """A named input file or directory does not exist."""

    exit_code = EX_NOINPUT


class UsageError(InputError):
    """An option has a value the suite does not understand."""

    exit_code = EX_USAGE


class CatalogueError(InputError):
    """A rule file, case file or waiver is malformed (a bug in policies/, not in the config)."""
