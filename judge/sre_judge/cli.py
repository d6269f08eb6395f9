"""`python -m sre_judge serve|judge`.

    serve   the HTTP service (PORT, HOST, PROMETHEUS_URL from the environment or options)
    judge   one comparison on the command line; prints the judgement as JSON

Exit codes (docs/interfaces.md): 0 pass (judge) or a clean stop (serve), 1 the judgement
is marginal, fail or inconclusive, 64 bad arguments, 65 a malformed request, an unknown
revision or data that cannot be compared, 66 a named thresholds file is missing, 69
Prometheus unreachable or refusing the query.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from .compare import compare
from .model import JudgeRequest
from .prometheus import Prometheus, PrometheusError, PrometheusUnreachable
from .series import UnknownRevision
from .verdict import NotComparable

EX_OK = 0
EX_CHECK_FAILED = 1
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_UNAVAILABLE = 69
DEFAULT_PORT = 8080
# The default: the judge is a container's service (the lab's local judge passes 127.0.0.1).
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  # nosec B104


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m sre_judge", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default=os.environ.get("HOST", ALL_INTERFACES))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    serve.add_argument("--prometheus-url", default=os.environ.get("PROMETHEUS_URL"))
    serve.add_argument(
        "--prometheus-timeout",
        type=float,
        default=float(os.environ.get("PROMETHEUS_TIMEOUT_SECONDS", "4")),
        help="seconds per Prometheus query (a judgement makes two; Argo's web metric waits 10)",
    )
    serve.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    one = commands.add_parser("judge", help="one comparison, printed as JSON")
    one.add_argument("--prometheus-url", default=os.environ.get("PROMETHEUS_URL"))
    one.add_argument("--namespace", required=True)
    one.add_argument("--canary", required=True, help="the canary's rollouts-pod-template-hash")
    one.add_argument("--baseline", required=True, help="the baseline's pod-template hash")
    one.add_argument("--window", default="2m")
    one.add_argument("--end", type=float, help="unix seconds (default: now)")
    one.add_argument("--thresholds", type=Path, help="a JSON file of thresholds (docs/judge.md)")
    return parser


def _prometheus(url: str | None, timeout: float = 10.0) -> Prometheus:
    if not url:
        raise SystemExit(_fail(EX_USAGE, "--prometheus-url (or PROMETHEUS_URL) is required"))
    try:
        return Prometheus(url, timeout)
    except ValueError as err:
        raise SystemExit(_fail(EX_USAGE, str(err))) from None


def _fail(code: int, message: str) -> int:
    print(f"sre-judge: {message}", file=sys.stderr)
    return code


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api import create_app

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    app = create_app(_prometheus(args.prometheus_url, args.prometheus_timeout))
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower())
    return EX_OK


def _judge(args: argparse.Namespace) -> int:
    fields: dict[str, object] = {}
    if args.thresholds is not None:
        try:
            fields = json.loads(args.thresholds.read_text())
        except FileNotFoundError:
            return _fail(EX_NOINPUT, f"{args.thresholds} does not exist")
        except (OSError, ValueError) as err:
            return _fail(EX_DATAERR, f"{args.thresholds}: not JSON ({err})")
        if not isinstance(fields, dict):
            return _fail(EX_DATAERR, f"{args.thresholds}: expected a JSON object")
    fields.update(
        namespace=args.namespace,
        canaryHash=args.canary,
        baselineHash=args.baseline,
        window=args.window,
        end=args.end,
    )
    try:
        request = JudgeRequest.model_validate(fields)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _fail(EX_DATAERR, f"malformed request: {where}: {first.get('msg')}")
    prometheus = _prometheus(args.prometheus_url)
    try:
        judgement = compare(request, prometheus)
    except (UnknownRevision, NotComparable) as err:
        return _fail(EX_DATAERR, str(err))
    except (PrometheusUnreachable, PrometheusError) as err:
        return _fail(EX_UNAVAILABLE, str(err))
    print(judgement.model_dump_json(by_alias=True, indent=2))
    return EX_OK if judgement.result == "pass" else EX_CHECK_FAILED


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _judge(args)
