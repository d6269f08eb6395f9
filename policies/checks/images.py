"""Image references: an explicit, immutable tag and a pull policy that fits it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.model import Bundle, Violation
from policies.registry import Params, check
from policies.workloads import PodTemplate, split_image


@check("explicit-tag", "workloads", forbidden=["latest"], values_key="image.tag")
def explicit_tag(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    forbidden = {str(t) for t in params["forbidden"]}
    for container in pod.containers():
        image = str(container.data.get("image") or "")
        _, tag, digest = split_image(image)
        if not image:
            problem = "has no image"
        elif digest:
            continue
        elif tag is None:
            problem = f'image "{image}" has no tag (means latest)'
        elif tag in forbidden:
            problem = f'image "{image}" uses the mutable tag "{tag}"'
        else:
            continue
        yield pod.violation(
            problem, container=container, field=("image",), values_key=params["values_key"]
        )


@check(
    "pull-policy",
    "workloads",
    immutable_tag=r"^([0-9a-f]{7,40}|v?\d+\.\d+\.\d+([-+][\w.-]+)?)$",
)
def pull_policy(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    """IfNotPresent is safe only for references that cannot change (digest, SHA or release tag)."""
    immutable = re.compile(params["immutable_tag"])
    for container in pod.containers():
        image = str(container.data.get("image") or "")
        policy = container.data.get("imagePullPolicy")
        _, tag, digest = split_image(image)
        pinned = bool(digest) or (tag is not None and immutable.match(tag) is not None)
        if policy is None:
            yield pod.violation(
                "imagePullPolicy is not set (the default depends on the tag)",
                container=container,
                field=("imagePullPolicy",),
                values_key="image.pullPolicy",
            )
        elif policy == "Never" or (policy == "IfNotPresent" and not pinned):
            yield pod.violation(
                f'imagePullPolicy {policy} with the mutable reference "{image}"',
                container=container,
                field=("imagePullPolicy",),
                values_key="image.pullPolicy",
            )
