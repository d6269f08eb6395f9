"""The command line of the bench scripts that run as `python bench/<name>.py` (bench_judge,
bench_service): argparse, except that a bad argument exits 64 (docs/interfaces.md), not 2."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EX_USAGE = 64


class UsageParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def parser(prog: str, doc: str) -> UsageParser:
    """A parser for `prog` described by the second paragraph of the script's docstring."""
    return UsageParser(prog=prog, description=doc.split("\n\n")[1])
