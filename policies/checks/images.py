"""Image references: an explicit, immutable tag and a pull policy that fits it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.model import Bundle, Violation, get_path
from policies.registry import Params, check
from policies.sources import Repo
from policies.workloads import PodTemplate, split_image
from policies.yamlio import parse_documents


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


COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


@check("tag-is-commit", "repo", key="image.tag")
def tag_is_commit(repo: Repo, params: Params) -> Iterator[Violation]:
    """Each environment's image tag is one CI produced: the full SHA of a commit of this
    repository (CI tags every image with github.sha; the GitOps update and rollback.sh
    write it). A tag that is no commit here was typed by hand or copied from elsewhere, and
    `git log` can no longer say what an environment runs."""
    key = str(params["key"]).split(".")
    for env, data in sorted(repo.environments.items()):
        gitops = data.get("gitops") if isinstance(data, dict) else None
        values_file = str((gitops or {}).get("values_file") or "")
        text = repo.read(values_file) if values_file else None
        if text is None:
            continue
        docs = parse_documents(text, values_file)  # memoised: the chart's inputs read it too
        values = docs[0] if docs else None
        tag = get_path(values, tuple(key)) if isinstance(values, dict) else None
        if tag is None:
            continue
        subject = f"environment {env}"
        if not COMMIT_SHA.match(str(tag)):
            yield Violation(
                subject,
                f"{params['key']} is {tag!r}, not the 40-hex commit SHA CI tags images with",
                file=values_file,
                values_key=params["key"],
            )
            continue
        known = repo.is_commit(str(tag))
        if known is False:
            yield Violation(
                subject,
                f"{params['key']} {tag} is not a commit of this repository",
                file=values_file,
                values_key=params["key"],
            )
