"""The reusable checks that rule files name in their `check:` field.

A check is a plain function registered with `@check(name, scope, **param_defaults)`.
Its scope fixes what it receives:

| scope      | called with                                   | once per                      |
|------------|-----------------------------------------------|-------------------------------|
| workloads  | (PodTemplate, Bundle, params)                 | pod template of every workload |
| manifests  | (Bundle, params)                              | rendering / manifest folder    |
| workflows  | (WorkflowSet, params)                         | workflows folder               |
| scripts    | (Script, params)                              | shell script                   |
| dockerfile | (Dockerfile, params)                          | Dockerfile                     |
| repo       | (Repo, params)                                | repository (cross-file rules)  |

`REQUIRED` marks a parameter every rule using the check must set; the catalogue loader
rejects unknown or missing parameters, so a typo in a rule file is an error, not a no-op.

This module imports no check: `policies/loader.py` imports the check modules (which
registers them), and check modules import only this registry and the reading helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from policies.model import Violation

SCOPES = ("workloads", "manifests", "workflows", "scripts", "dockerfile", "repo")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

CheckFn = Callable[..., Iterable[Violation]]
Params = Mapping[str, Any]  # a rule's params, bound to the check's defaults


@dataclass(frozen=True)
class CheckSpec:
    name: str
    scope: str
    fn: CheckFn
    defaults: Mapping[str, Any]

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults overlaid with a rule's params; raises ValueError on unknown/missing."""
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise ValueError(f"unknown params {unknown} for check {self.name!r} (known: {known})")
        bound = {**self.defaults, **params}
        missing = sorted(k for k, v in bound.items() if v is REQUIRED)
        if missing:
            raise ValueError(f"check {self.name!r} needs params {missing}")
        return bound


CHECKS: dict[str, CheckSpec] = {}


def check(name: str, scope: str, **defaults: Any) -> Callable[[CheckFn], CheckFn]:
    """Register `fn` as the check `name` for rules of `scope`."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def register(fn: CheckFn) -> CheckFn:
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = CheckSpec(name=name, scope=scope, fn=fn, defaults=defaults)
        return fn

    return register
