"""The SLO queries: the chart's own analysis queries, not a copy of them.

The canary analysis (helm/templates/analysistemplates.yaml) is the one place the success
rate and the p99 are written in PromQL. This module renders that template with the
environment's values file (the same render ArgoCD does), takes the queries of the
`success-rate` and `latency-p99` metrics, and fills in the Argo Rollouts arguments:

- `analysis.rateWindow` is set to the environment's `slo.window`, so the range is the SLO's;
- `{{args.namespace}}` is the environment's namespace;
- `{{args.latest-hash}}` is the current revision's ReplicaSet hash (a fully promoted
  Rollout's stable revision). For a Deployment the pods carry no
  `rollouts_pod_template_hash`, and the empty matcher `=""` selects exactly such series.

The request count ("is there enough data?") is the success-rate query's denominator, a
rate, times the window.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from fixtures.render import RenderRequest, helm_template_e
from fixtures.tools import ToolMissing, tool_path

KUBE_VERSION = "v1.34.0"
SUCCESS_METRIC = "success-rate"
LATENCY_METRIC = "latency-p99"


class QueriesUnavailable(RuntimeError):
    """The chart did not render, or its analysis no longer has the metrics the SLOs use."""


@dataclass(frozen=True)
class SloQueries:
    success_rate: str
    request_rate: str
    latency_p99: str
    source: str  # where they came from, for messages


def helm_binary() -> Path:
    """The pinned helm (`make tools`), else the one on PATH (CI runner images ship one)."""
    try:
        return tool_path("helm")
    except ToolMissing as missing:
        found = shutil.which("helm")
        if found is None:
            raise QueriesUnavailable(
                f"the SLO queries are rendered from the chart and helm is missing: {missing}"
            ) from None
        return Path(found)


def render_analysis_queries(
    chart: Path, values_file: Path, release: str, namespace: str, window: str
) -> dict[str, str]:
    """metric name -> query (with Argo Rollouts placeholders) from the rendered chart."""
    request = RenderRequest(
        chart=chart,
        release=release,
        namespace=namespace,
        values=(values_file,),
        # The AnalysisTemplates exist only with Rollouts; the queries do not depend on it.
        set_values=("rollouts.enabled=true", f"analysis.rateWindow={window}"),
        kube_version=KUBE_VERSION,
        show_only=("templates/analysistemplates.yaml",),
    )
    output, error = helm_template_e(request, helm_binary())
    if error is not None:
        raise QueriesUnavailable(f"the chart's analysis queries did not render: {error}")
    queries: dict[str, str] = {}
    for doc in yaml.safe_load_all(output):
        if not isinstance(doc, dict) or doc.get("kind") != "AnalysisTemplate":
            continue
        for metric in doc["spec"].get("metrics") or []:
            prometheus = (metric.get("provider") or {}).get("prometheus") or {}
            if "query" in prometheus:
                queries[metric["name"]] = str(prometheus["query"]).strip()
    return queries


def slo_queries(
    chart: Path,
    values_file: Path,
    release: str,
    namespace: str,
    window: str,
    revision_hash: str,
) -> SloQueries:
    queries = render_analysis_queries(chart, values_file, release, namespace, window)
    missing = [m for m in (SUCCESS_METRIC, LATENCY_METRIC) if m not in queries]
    if missing:
        raise QueriesUnavailable(
            f"{chart}/templates/analysistemplates.yaml has no metric {', '.join(missing)} "
            f"(has: {', '.join(sorted(queries)) or 'none'})"
        )

    def fill(query: str) -> str:
        return query.replace("{{args.namespace}}", namespace).replace(
            "{{args.latest-hash}}", revision_hash
        )

    success = fill(queries[SUCCESS_METRIC])
    # "(<good> / <all>) and on() (<enough requests>)": the ratio is what comes before the
    # sample-size guard, without its parentheses.
    ratio = success.split("\nand on()")[0].strip()
    if ratio.startswith("(") and ratio.endswith(")"):
        ratio = ratio[1:-1]
    parts = re.split(r"\n\s*/\s*\n", ratio)
    if len(parts) != 2:
        raise QueriesUnavailable(
            f"the chart's {SUCCESS_METRIC} query is no longer '<good> / <all>': {success!r}"
        )
    return SloQueries(
        success_rate=success,
        request_rate=parts[1].strip(),
        latency_p99=fill(queries[LATENCY_METRIC]),
        source=f"{chart}/templates/analysistemplates.yaml with {values_file.name}",
    )
