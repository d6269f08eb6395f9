"""The frame of scripts/lib's Python command lines (envfile.py, gitops.py): their own error
as one line with its exit code, anything else (a bug) as one line and 70, never a traceback.

Only their `if __name__ == "__main__":` imports it (as `python3 scripts/lib/<name>.py`,
scripts/lib is on sys.path), so importing them as modules (fixtures' script_module) does not.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from os import EX_SOFTWARE  # sysexits.h
from typing import NoReturn


def run(prog: str, main: Callable[[list[str]], int], error: type[Exception]) -> NoReturn:
    """Exit with `main(sys.argv[1:])`; an `error` (which carries `code`) and any other
    exception become `<prog>: <message>` on stderr."""
    try:
        sys.exit(main(sys.argv[1:]))
    except error as err:
        print(f"{prog}: {err}", file=sys.stderr)
        sys.exit(getattr(err, "code", EX_SOFTWARE))
    except Exception as err:  # a bug: say so in one line instead of a traceback
        print(
            f"{prog}: internal error ({type(err).__name__}: {err}); please report it",
            file=sys.stderr,
        )
        sys.exit(EX_SOFTWARE)
