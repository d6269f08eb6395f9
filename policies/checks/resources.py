"""CPU, memory and ephemeral-storage requests and limits."""

from __future__ import annotations

from collections.abc import Iterator

from policies.model import Bundle, Violation, as_dict
from policies.registry import REQUIRED, Params, check
from policies.workloads import PodTemplate


@check("resources", "workloads", sections=REQUIRED, resources=REQUIRED)
def resources(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    for container in pod.containers():
        declared = as_dict(container.data.get("resources"))
        for section in params["sections"]:
            values = as_dict(declared.get(section))
            missing = [r for r in params["resources"] if values.get(r) in (None, "", 0, "0")]
            if missing:
                yield pod.violation(
                    f"resources.{section} has no {', '.join(missing)}",
                    container=container,
                    field=("resources", section),
                    values_key=f"resources.{section}",
                )
