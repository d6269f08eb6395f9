"""The service image: multi-stage, pinned base, non-root, with a HEALTHCHECK (CKV_DOCKER_*)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.model import Violation
from policies.registry import Params, check
from policies.sources import Dockerfile

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


_ARG_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}?")


def _global_args(dockerfile: Dockerfile) -> dict[str, str]:
    args: dict[str, str] = {}
    for instruction in dockerfile.instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            name, _, value = instruction.args.partition("=")
            args[name.strip()] = value.strip().strip('"')
    return args


@check("multi-stage", "dockerfile")
def multi_stage(dockerfile: Dockerfile, params: Params) -> Iterator[Violation]:
    if len(dockerfile.stages) < 2:
        yield dockerfile.violation(
            f"has {len(dockerfile.stages)} stage(s)",
            line=1,
            fix="build in a builder stage and COPY --from it into a slim runtime stage",
        )
        return
    final = len(dockerfile.stages) - 1
    copies = [i for i in dockerfile.in_stage(final) if i.keyword == "COPY" and "from" in i.flags()]
    if not copies:
        yield dockerfile.violation(
            "the final stage copies nothing from an earlier stage",
            line=dockerfile.stages[final].line,
        )


@check("pinned-base", "dockerfile")
def pinned_base(dockerfile: Dockerfile, params: Params) -> Iterator[Violation]:
    args = _global_args(dockerfile)
    names = set()
    for stage in dockerfile.stages:
        base = _ARG_REF.sub(lambda m: args.get(m.group(1), m.group(0)), stage.base)
        if base.lower() in names or base == "scratch":
            pass
        elif not DIGEST.search(base):
            yield dockerfile.violation(
                f"FROM {base} is not pinned by digest",
                line=stage.line,
                fix="pin the base image: FROM image:tag@sha256:<digest>",
            )
        elif ":" not in base.split("@")[0].rsplit("/", 1)[-1]:
            yield dockerfile.violation(
                f"FROM {base} has a digest but no readable tag",
                line=stage.line,
                fix="keep the tag next to the digest: image:tag@sha256:<digest>",
            )
        if stage.name:
            names.add(stage.name.lower())


@check("non-root-user", "dockerfile")
def non_root_user(dockerfile: Dockerfile, params: Params) -> Iterator[Violation]:
    if not dockerfile.stages:
        yield dockerfile.violation("has no FROM", line=1)
        return
    final = dockerfile.in_stage(len(dockerfile.stages) - 1)
    users = [i for i in final if i.keyword == "USER"]
    if not users:
        yield dockerfile.violation(
            "the final stage has no USER, so the container runs as root",
            line=dockerfile.stages[-1].line,
            fix="add USER <uid>:<gid> (numeric, not 0)",
        )
        return
    user = users[-1].args.split(":")[0].strip()
    if user in ("root", "0"):
        yield dockerfile.violation(
            f"the final USER is {user}",
            line=users[-1].line,
            fix="switch to an unprivileged numeric user before the end",
        )
    elif not user.isdigit():
        yield dockerfile.violation(
            f"the final USER {user!r} is a name, so Kubernetes cannot verify runAsNonRoot",
            line=users[-1].line,
            fix="use the numeric UID (USER 10001:10001)",
        )


@check("healthcheck", "dockerfile")
def healthcheck(dockerfile: Dockerfile, params: Params) -> Iterator[Violation]:
    final = dockerfile.in_stage(max(len(dockerfile.stages) - 1, 0))
    checks = [i for i in final if i.keyword == "HEALTHCHECK"]
    if not checks or checks[-1].args.strip().upper() == "NONE":
        yield dockerfile.violation(
            "the final stage has no HEALTHCHECK",
            line=dockerfile.stages[-1].line if dockerfile.stages else 1,
            fix="add a HEALTHCHECK whose CMD probes the health endpoint",
        )


@check("copy-not-add", "dockerfile")
def copy_not_add(dockerfile: Dockerfile, params: Params) -> Iterator[Violation]:
    for instruction in dockerfile.instructions:
        if instruction.keyword == "ADD":
            yield dockerfile.violation(
                f"uses ADD {instruction.args}",
                line=instruction.line,
                fix="use COPY (ADD fetches URLs and unpacks archives implicitly)",
            )


SECRETISH = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY)", re.IGNORECASE)


@check("no-baked-secrets", "dockerfile")
def no_baked_secrets(dockerfile: Dockerfile, params: Params) -> Iterator[Violation]:
    """ENV and ARG values end up in the image history for anyone who pulls it."""
    for instruction in dockerfile.instructions:
        if instruction.keyword not in ("ENV", "ARG"):
            continue
        for word in instruction.words:
            name, sep, value = word.partition("=")
            if sep and value and SECRETISH.search(name):
                yield dockerfile.violation(
                    f"{instruction.keyword} {name} bakes a secret into the image",
                    line=instruction.line,
                    fix=(
                        "pass secrets at run time (Kubernetes Secret) or with RUN "
                        "--mount=type=secret"
                    ),
                )
