"""Image references (policies/checks/images.py) in CEL."""

from __future__ import annotations

from policies.admission.cel import WORKLOAD_KINDS, literal
from policies.admission.template import Template, each_container, template
from policies.registry import Params


@template("explicit-tag")
def explicit_tag(params: Params) -> Template:
    """policies.workloads.split_image: a non-empty digest pins; else the last path segment
    of the name (before any `@`) must carry a tag that is not a forbidden one."""
    name = "c.image.split('@')[0]"
    digest = "c.image.contains('@') && c.image.substring(c.image.indexOf('@') + 1) != ''"
    last = f"{name}.substring({name}.lastIndexOf('/') + 1)"
    tag = f"{name}.substring({name}.lastIndexOf(':') + 1)"
    forbidden = literal(list(params["forbidden"]))
    passes = (
        f"has(c.image) && c.image != '' && ({digest} || "
        f"({last}.contains(':') && !({tag} in {forbidden})))"
    )
    problem = f"the image has no tag or a mutable one ({', '.join(params['forbidden'])})"
    return Template(WORKLOAD_KINDS, (each_container(passes, problem),))
