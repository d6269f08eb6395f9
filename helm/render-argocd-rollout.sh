#!/usr/bin/env bash
# Generates argocd/rollout.yaml, the standalone Rollout + AnalysisTemplates (+ the Services
# and Ingress they name) and the blue-green alternative, from the chart with production's
# values. The chart is the only source of truth; this file is a rendering of it that the
# static tier (and --check in CI) proves is current, so the two cannot drift.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
chart="$here"
values="$chart/values-production.yaml"
output="$repo/argocd/rollout.yaml"
namespace=production
# The deployed production tag changes with every release (CD writes image.tag); the reference
# manifest is about the release strategy, so it carries a fixed, obviously-not-real tag and
# does not go stale on every deploy.
placeholder_tag=set-by-helm-values-production
check=false
helm_bin=${HELM:-}

usage() {
  cat <<USAGE
Usage: helm/render-argocd-rollout.sh [--check] [--output FILE] [--helm PATH]

Renders argocd/rollout.yaml from the chart (helm/) with helm/values-production.yaml:
  - the production canary Rollout, its AnalysisTemplates, Services and Ingress
    (release "sre-platform"), and
  - the blue-green alternative (release "sre-platform-bluegreen": rollouts.strategy=blueGreen,
    no Ingress so it cannot take over the canary's host).
image.tag is replaced by "$placeholder_tag": the file documents the strategy, not a version.

Options:
  --check        do not write; exit 1 if the file differs from a fresh rendering
  --output FILE  write (or check) FILE instead of argocd/rollout.yaml
  --helm PATH    helm binary (default: \$HELM, then the pinned build in
                 \$SRE_PLATFORM_CACHE/tools/helm/<HELM_VERSION>/helm)
  -h, --help     this help

Exit codes: 0 ok, 1 --check found a stale file, 64 bad arguments, 65 the chart does not
render, 66 chart, values or output directory missing, 69 helm not built (run 'make tools').
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --check)
      check=true
      shift
      ;;
    --output | --helm)
      if [[ $# -lt 2 || -z "$2" ]]; then
        echo "render-argocd-rollout: $1 needs a value" >&2
        exit 64
      fi
      if [[ "$1" == --output ]]; then output=$2; else helm_bin=$2; fi
      shift 2
      ;;
    *)
      echo "render-argocd-rollout: unknown argument '$1' (see --help)" >&2
      exit 64
      ;;
  esac
done

versions="$repo/tools/versions.env"
pin() { # pin NAME -> the value of NAME=... in tools/versions.env
  sed -n "s/^$1=//p" "$versions" 2>/dev/null | head -n 1
}

if [[ -z "$helm_bin" ]]; then
  cache=${SRE_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sre-platform}
  helm_version=$(pin HELM_VERSION)
  helm_bin="$cache/tools/helm/${helm_version:-unknown}/helm"
fi
if [[ ! -x "$helm_bin" ]]; then
  echo "render-argocd-rollout: helm not found at $helm_bin; run 'make tools' (or pass --helm / set HELM)" >&2
  exit 69
fi
for f in "$chart/Chart.yaml" "$values"; do
  if [[ ! -f "$f" ]]; then
    echo "render-argocd-rollout: $f is missing" >&2
    exit 66
  fi
done
if [[ ! -d "$(dirname "$output")" ]]; then
  echo "render-argocd-rollout: directory $(dirname "$output") does not exist" >&2
  exit 66
fi

# Render for the cluster version the project targets, whatever the helm build defaults to.
kube_version=$(pin KUBERNETES_VERSION)
kube_version=${kube_version:-v1.34.0}
chart_version=$(sed -n 's/^version:[[:space:]]*//p' "$chart/Chart.yaml" | head -n 1)

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.canary" "$tmp.bluegreen"' EXIT

render() { # render RELEASE OUTFILE [extra helm args...]
  local release=$1 out=$2
  shift 2
  if ! "$helm_bin" template "$release" "$chart" \
    --namespace "$namespace" \
    --kube-version "$kube_version" \
    --values "$values" \
    --set-string "image.tag=$placeholder_tag" \
    "$@" >"$out" 2>"$out.err"; then
    echo "render-argocd-rollout: helm template failed for release $release:" >&2
    cat "$out.err" >&2
    rm -f "$out.err"
    exit 65
  fi
  rm -f "$out.err"
}

render sre-platform "$tmp.canary" \
  --show-only templates/rollout.yaml \
  --show-only templates/analysistemplates.yaml \
  --show-only templates/service.yaml \
  --show-only templates/ingress.yaml

render sre-platform-bluegreen "$tmp.bluegreen" \
  --set rollouts.strategy=blueGreen \
  --set ingress.enabled=false \
  --show-only templates/rollout.yaml \
  --show-only templates/analysistemplates.yaml \
  --show-only templates/service.yaml

{
  cat <<HEADER
# GENERATED FILE - DO NOT EDIT. Source: the Helm chart in helm/ (sre-platform $chart_version).
# Regenerate:  helm/render-argocd-rollout.sh
# Check:       helm/render-argocd-rollout.sh --check   (the static tier runs the same check)
#
# The standalone release strategy for production, rendered from helm/values.yaml +
# helm/values-production.yaml (namespace $namespace, Kubernetes $kube_version):
#   1. release "sre-platform": the canary Rollout with an analysis after every weight step
#      and a traffic router, its AnalysisTemplates (success rate, p99 latency, restarts of
#      the canary's pods, and the statistical judge: canary vs stable, docs/judge.md), the
#      Services and the Ingress it names;
#   2. release "sre-platform-bluegreen": the blue-green alternative (active and preview
#      Services, pre-promotion analysis, manual promotion, scale-down delay, post-promotion
#      analysis), without an Ingress.
# docs/chart.md explains both strategies and every value behind them.
# image.tag is the placeholder "$placeholder_tag": the deployed version lives only in
# image.tag of helm/values-production.yaml. ArgoCD deploys the chart (argocd/application.yaml),
# not this file; apply it only to a cluster where the chart is not installed, and only one of
# the two releases.
HEADER
  cat "$tmp.canary"
  cat "$tmp.bluegreen"
} >"$tmp"

if $check; then
  if [[ ! -f "$output" ]]; then
    echo "render-argocd-rollout: $output is missing; run helm/render-argocd-rollout.sh" >&2
    exit 1
  fi
  if ! diff -u "$output" "$tmp" >&2; then
    echo "render-argocd-rollout: $output is stale (diff above: file -> fresh rendering); run helm/render-argocd-rollout.sh" >&2
    exit 1
  fi
  echo "render-argocd-rollout: $output is current"
  exit 0
fi

cp "$tmp" "$output"
echo "render-argocd-rollout: wrote $output"
