"""Check implementations; importing this package registers every check."""

from policies.checks import (  # noqa: F401
    argocd,
    autoscaling,
    availability,
    dockerfile,
    images,
    manifests,
    pod_security,
    probes,
    repo,
    resources,
    rollouts,
    scripts,
    workflows,
)
