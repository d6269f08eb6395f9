"""sre-judge: a statistical canary judge for Argo Rollouts (docs/judge.md).

It compares the canary's request latencies and errors with the stable revision's, read
from Prometheus over the analysis window, and answers with a verdict per metric, an
overall score and a pass/marginal/fail/inconclusive result: Argo Rollouts calls it as a
`web` metric.
"""

# The response contract; a consumer checks it before reading anything else.
CONTRACT = "sre-judge/v1"
