"""Requests and limits (policies/checks/resources.py) in CEL."""

from __future__ import annotations

from policies.admission.cel import WORKLOAD_KINDS, all_of, has, literal
from policies.admission.template import Template, each_container, template
from policies.registry import Params


@template("resources")
def resources(params: Params) -> Template:
    """Each section must set each resource to something other than empty or zero."""
    validations = []
    for section in params["sections"]:
        values = f"c.resources.{section}"
        tests = [
            f"{has('c', 'resources', section)} && {literal(r)} in {values} && "
            f"!(string({values}[{literal(r)}]) in ['', '0'])"
            for r in params["resources"]
        ]
        problem = f"resources.{section} lacks {' or '.join(params['resources'])}"
        validations.append(each_container(all_of(tests), problem))
    return Template(WORKLOAD_KINDS, tuple(validations))
