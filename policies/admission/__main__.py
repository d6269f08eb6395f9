"""python -m policies.admission generate|check|list (also `make admission`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from policies.admission.manifests import generate
from policies.admission.output import DEPLOY_DIR, differences, write
from policies.admission.summary import reason_without
from policies.catalogue import RULES_DIR, load_catalogue
from policies.errors import InputError

EX_OK, EX_FAIL, EX_USAGE = 0, 1, 64


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policies.admission",
        description="ValidatingAdmissionPolicies and bindings from the rules with "
        "'admission: true' (policies/rules/), in deploy/admission/.",
        epilog="Exit codes: 0 ok, 1 check: the folder is stale, 64 usage, 65 a rule claims an "
        "admission form its check has no CEL template for (or a rule file is malformed).",
    )
    parser.add_argument(
        "--rules", type=Path, default=RULES_DIR, help=f"the rule files (default {RULES_DIR})"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("generate", "write the manifests (removes files no rule generates)"),
        ("check", "exit 1 when the folder differs from what the rules generate"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument(
            "--out", type=Path, default=DEPLOY_DIR, help=f"the folder (default {DEPLOY_DIR})"
        )
    sub.add_parser("list", help="each rule, whether it has an admission form, and why not")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EX_OK if exit_.code == 0 else EX_USAGE
    try:
        catalogue = load_catalogue(args.rules.resolve())
        if args.command == "list":
            for rule in catalogue.rules:
                shown = "admission" if rule.admission else f"static only: {reason_without(rule)}"
                print(f"{rule.id}\t{shown}")
            return EX_OK
        wanted = generate(catalogue)
        if args.command == "check":
            stale = differences(args.out, wanted)
            for line in stale:
                print(f"admission: {args.out}/{line}", file=sys.stderr)
            if stale:
                print("admission: regenerate with `make admission`", file=sys.stderr)
            return EX_FAIL if stale else EX_OK
        for line in write(args.out, wanted):
            print(f"admission: {args.out}/{line.split(':', 1)[0]} written", file=sys.stderr)
        print(f"admission: {len(wanted)} rules in {args.out}", file=sys.stderr)
    except InputError as error:
        print(f"admission: {error}", file=sys.stderr)
        return error.exit_code
    return EX_OK


if __name__ == "__main__":
    sys.exit(main())
