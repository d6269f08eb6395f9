#!/usr/bin/env bash
# Install ArgoCD and Argo Rollouts on a cluster from pinned upstream manifests, then apply
# this repository's own ArgoCD objects (argocd/): the ArgoCD configuration, the AppProject
# and the per-environment Applications (or the ApplicationSet). Idempotent: every step is
# a `kubectl apply`, so running it again converges instead of failing.
set -euo pipefail

# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SP_PROG=setup-argocd
# shellcheck source=scripts/lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

argocd_version=$(sp_pinned_version ARGO_CD_VERSION)
rollouts_version=$(sp_pinned_version ARGO_ROLLOUTS_VERSION)

usage() {
  cat <<USAGE
Usage: scripts/setup-argocd.sh [options]

Install ArgoCD $argocd_version and Argo Rollouts $rollouts_version (pins: tools/versions.env) on
a Kubernetes cluster, wait until their controllers are available, then apply this
repository's argocd/ manifests.

Where the manifests come from (versioned, never 'latest' or 'stable'):
  ArgoCD        the copy built with the pinned module in
                \$SRE_PLATFORM_CACHE/tools/argo-cd/$argocd_version/manifests/install.yaml, else
                https://raw.githubusercontent.com/argoproj/argo-cd/$argocd_version/manifests/install.yaml
  Argo Rollouts \$SRE_PLATFORM_CACHE/tools/argo-rollouts/$rollouts_version/manifests/install.yaml, else
                https://github.com/argoproj/argo-rollouts/releases/download/$rollouts_version/install.yaml
  --manifests-dir DIR overrides both (air-gapped installs): DIR/argo-cd-install.yaml,
  DIR/argo-rollouts-install.yaml and (unless --no-dashboard) DIR/argo-rollouts-dashboard-install.yaml.

Options:
  --env ENV            use the cluster of environments/ENV.yaml (default: kubectl's current context)
  --kubeconfig FILE    kubeconfig to use (overrides --env's)
  --context NAME       kubeconfig context to use (overrides --env's)
  --apps MODE          which of this repository's objects to apply after the install:
                         applications    argocd/application.yaml, one Application per environment (default)
                         applicationset  argocd/applicationset.yaml, all environments from one template
                         none            only the ArgoCD configuration and the AppProject
  --ha                 ArgoCD's high-availability manifests (needs at least 3 nodes)
  --no-dashboard       do not install the Argo Rollouts dashboard (installed by default; in the
                       lab it runs as a local process on http://127.0.0.1:16984/rollouts/,
                       docs/argocd-lab.md)
  --manifests-dir DIR  local copies of the upstream manifests (see above)
  --timeout DURATION   how long to wait for the controllers (default 5m)
  --dry-run            send everything with 'kubectl apply --dry-run=server'; change nothing
  --lab                the offline lab cluster (make lab-up): ArgoCD's CRDs and configuration
                       from the pinned module; its controllers run as local processes
                       started by the lab tooling (issue 9), not as pods
  -h, --help           this help

Repository credentials are never in git. To create the repository Secret (labelled
argocd.argoproj.io/secret-type=repository), export before running:
  ARGOCD_REPO_URL and either ARGOCD_REPO_SSH_KEY_FILE (a private key file) or
  ARGOCD_REPO_USERNAME + ARGOCD_REPO_PASSWORD (e.g. a GitHub App or deploy token).

Exit codes:
  0   installed (or already installed) and the controllers are available
  1   a kubectl apply failed or a controller did not become available
  64  wrong arguments
  65  unknown environment or malformed environment file; a manifest is not the pinned version
  66  a manifest file or the kubeconfig is missing
  69  the cluster or the manifest URL is unreachable, or kubectl is missing
  75  timed out waiting for the controllers

Examples:
  scripts/setup-argocd.sh --context my-eks-cluster
  scripts/setup-argocd.sh --env staging --apps applicationset --no-dashboard
  scripts/setup-argocd.sh --env production --dry-run
USAGE
}

apps=applications ha=false dashboard=true manifests_dir="" timeout=5m dry_run=false lab=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --env | --env=* | --kubeconfig | --kubeconfig=* | --context | --context=*)
      sp_cluster_option "$@"; shift $((SP_OPTION_WORDS - 1)) ;;
    --apps) sp_need_value "$1" $#; apps=$2; shift ;;
    --apps=*) apps=${1#*=} ;;
    --ha) ha=true ;;
    --dashboard) dashboard=true ;; # the default; kept so older invocations still work
    --no-dashboard) dashboard=false ;;
    --manifests-dir) sp_need_value "$1" $#; manifests_dir=$2; shift ;;
    --manifests-dir=*) manifests_dir=${1#*=} ;;
    --timeout) sp_need_value "$1" $#; timeout=$2; shift ;;
    --timeout=*) timeout=${1#*=} ;;
    --dry-run) dry_run=true ;;
    --lab) lab=true ;;
    -*) sp_usage_error "unknown option '$1'" ;;
    *) sp_usage_error "unexpected argument '$1' (this script takes options only)" ;;
  esac
  shift
done
env=$SP_ENV_OPTION

case "$apps" in
  applications | applicationset | none) ;;
  *) sp_usage_error "--apps must be applications, applicationset or none, not '$apps'" ;;
esac
timeout_seconds=$(sp_duration_seconds "$timeout")
if $lab; then
  [[ -z "$env" || "$env" == lab ]] || sp_usage_error "--lab and --env $env contradict each other"
  env=lab
fi
if [[ -n "$manifests_dir" && ! -d "$manifests_dir" ]]; then
  sp_die "$SP_EX_NOINPUT" "--manifests-dir $manifests_dir is not a directory"
fi

# --- the cluster --------------------------------------------------------------------------

sp_connect_cluster "$env"

apply_args=(apply --server-side --force-conflicts)
$dry_run && apply_args+=(--dry-run=server)

# kube_apply LABEL ARGS...: kubectl apply with a readable failure. In --dry-run, objects
# whose namespace or CRD the (not yet applied) install would create are checked client-side.
kube_apply() {
  local label=$1 out
  shift
  sp_log "applying $label"
  if out=$(sp_kubectl "${apply_args[@]}" "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    return 0
  fi
  if $dry_run && [[ "$out" == *"no matches for kind"* || "$out" == *"ensure CRDs are installed first"* ]]; then
    sp_warn "$label: not checked: its CRD is not installed yet (a real run installs it first)"
    return 0
  fi
  if $dry_run && [[ "$out" == *"not found"* ]]; then
    sp_log "$label: its namespace does not exist yet; checking it client-side only"
    sp_kubectl apply --dry-run=client "$@" >&2 || sp_die "$SP_EX_FAIL" "kubectl apply --dry-run=client of $label failed (see above)"
    return 0
  fi
  printf '%s\n' "$out" >&2
  sp_die "$SP_EX_FAIL" "kubectl apply of $label failed (see above)"
}

ensure_namespace() {
  sp_kubectl create namespace "$1" --dry-run=client -o yaml | sp_kubectl "${apply_args[@]}" -f - >/dev/null ||
    sp_die "$SP_EX_FAIL" "could not create namespace $1"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# has_image FILE IMAGE: FILE has a container running exactly IMAGE.
has_image() { grep -qE "(^|[[:space:]-])image: $2([[:space:]]|\$)" "$1"; }

# fetch_manifest NAME LOCAL_CANDIDATE URL EXPECTED_IMAGE: a manifest file path on stdout,
# from --manifests-dir, the pinned module copy in the cache, or the versioned URL; refuses
# a manifest that does not run EXPECTED_IMAGE (i.e. is not the pinned version).
fetch_manifest() {
  local name=$1 local_copy=$2 url=$3 expected_image=$4 file
  if [[ -n "$manifests_dir" ]]; then
    file="$manifests_dir/$name"
    [[ -f "$file" ]] || sp_die "$SP_EX_NOINPUT" "$file is missing (--manifests-dir)"
  elif [[ -f "$local_copy" ]]; then
    file=$local_copy
  else
    file="$work/$name"
    sp_log "downloading $url"
    local err
    err=$(curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 \
      --connect-timeout 15 --max-time 120 --retry 3 -o "$file" "$url" 2>&1) ||
      sp_die "$SP_EX_UNAVAILABLE" "cannot download $url: $err (use --manifests-dir for an air-gapped install)"
  fi
  [[ -s "$file" ]] || sp_die "$SP_EX_DATAERR" "$file is empty"
  local repo_part=${expected_image%:*}
  if [[ "$file" == "$local_copy" ]] && ! has_image "$file" "$expected_image" && has_image "$file" "$repo_part:latest"; then
    # A module's source tree says :latest; its release pins the version. Do the same.
    sed "s#image: $repo_part:latest#image: $expected_image#" "$file" >"$work/$name"
    file="$work/$name"
    sp_log "pinned $repo_part:latest to $expected_image in the module's $name"
  fi
  if ! has_image "$file" "$expected_image"; then
    sp_die "$SP_EX_DATAERR" "$file does not run $expected_image: it is not the pinned version"
  fi
  echo "$file"
}

# wait_available NAMESPACE: every Deployment and StatefulSet there rolled out.
wait_available() {
  local ns=$1 workload out
  $dry_run && return 0
  for workload in $(sp_kubectl -n "$ns" get deployments,statefulsets -o name); do
    if ! out=$(sp_kubectl -n "$ns" rollout status "$workload" --timeout="${timeout_seconds}s" 2>&1); then
      printf '%s\n' "$out" >&2
      [[ "$out" == *"timed out"* ]] && sp_die "$SP_EX_TEMPFAIL" "$ns/$workload did not become available within $timeout"
      sp_die "$SP_EX_FAIL" "$ns/$workload did not become available"
    fi
    sp_log "$ns/$workload available"
  done
}

cache_tools=$(sp_cache_root)/tools

# --- ArgoCD -------------------------------------------------------------------------------

install_argocd_cluster() {
  local manifest path=manifests/install.yaml local_copy="$cache_tools/argo-cd/$argocd_version/manifests/install.yaml"
  if $ha; then
    path=manifests/ha/install.yaml
    local_copy="$cache_tools/argo-cd/$argocd_version/manifests/ha/install.yaml"
  fi
  manifest=$(fetch_manifest argo-cd-install.yaml "$local_copy" \
    "https://raw.githubusercontent.com/argoproj/argo-cd/$argocd_version/$path" \
    "quay.io/argoproj/argocd:$argocd_version")
  ensure_namespace argocd
  # Server-side apply: ArgoCD's CRDs exceed the client-side last-applied annotation limit.
  kube_apply "ArgoCD $argocd_version" -n argocd -f "$manifest"
  wait_available argocd
}

install_rollouts_cluster() {
  local manifest dashboard_manifest local_dir="$cache_tools/argo-rollouts/$rollouts_version/manifests"
  manifest=$(fetch_manifest argo-rollouts-install.yaml "$local_dir/install.yaml" \
    "https://github.com/argoproj/argo-rollouts/releases/download/$rollouts_version/install.yaml" \
    "quay.io/argoproj/argo-rollouts:$rollouts_version")
  ensure_namespace argo-rollouts
  kube_apply "Argo Rollouts $rollouts_version" -n argo-rollouts -f "$manifest"
  if $dashboard; then
    dashboard_manifest=$(fetch_manifest argo-rollouts-dashboard-install.yaml "$local_dir/dashboard-install.yaml" \
      "https://github.com/argoproj/argo-rollouts/releases/download/$rollouts_version/dashboard-install.yaml" \
      "quay.io/argoproj/kubectl-argo-rollouts:$rollouts_version")
    kube_apply "the Argo Rollouts dashboard" -n argo-rollouts -f "$dashboard_manifest"
  fi
  wait_available argo-rollouts
}

# The lab (issue 9): no pods run ArgoCD there. scripts/lab/argocd.sh start installs its CRDs
# and configuration from the pinned module and starts its controller and repo-server as
# local processes (docs/argocd-lab.md); Argo Rollouts is already part of `make lab-up`.
install_lab() {
  local starter="$SP_REPO_ROOT/scripts/lab/argocd.sh"
  [[ -x "$starter" ]] || sp_die "$SP_EX_UNAVAILABLE" "$starter is missing or not executable"
  if $dry_run; then
    sp_log "dry run: not starting the lab's ArgoCD ($starter start)"
    return 0
  fi
  sp_run "$starter" start >&2 || sp_die "$SP_EX_FAIL" "$starter start failed (see above)"
  if $dashboard; then
    # The dashboard as a local process on a fixed port (stopped by make lab-down).
    (cd "$SP_REPO_ROOT" && sp_python -m fixtures.gitops.dashboard up) >&2 ||
      sp_die "$SP_EX_FAIL" "the Rollouts dashboard did not start (see above)"
  fi
}

# repository_file FILE: the path of argocd/FILE as this run applies it. In the lab, rewritten
# by fixtures/gitops/manifests.py to read the lab's local GitOps repository and to deploy into the
# lab (docs/argocd-lab.md); the files themselves keep their production URLs.
repository_file() {
  if ! $lab; then
    echo "$SP_REPO_ROOT/argocd/$1"
    return
  fi
  local out="$work/lab-$1"
  (cd "$SP_REPO_ROOT" && sp_python -m fixtures.gitops lab-manifests "argocd/$1") >"$out" ||
    sp_die "$SP_EX_DATAERR" "cannot rewrite argocd/$1 for the lab (see above)"
  echo "$out"
}

# --- this repository's objects -------------------------------------------------------------

apply_repository_objects() {
  local dir="$SP_REPO_ROOT/argocd" file name
  [[ -f "$dir/install.yaml" ]] || sp_die "$SP_EX_NOINPUT" "$dir/install.yaml is missing"
  kube_apply "argocd/install.yaml (ArgoCD configuration)" -f "$(repository_file install.yaml)"
  # The AppProject first, wherever it is written (the Applications and the ApplicationSet
  # both need it, and --apps none still applies it).
  local projects="$work/appprojects.yaml" sources=()
  while IFS= read -r name; do
    sources+=("$(repository_file "$name")")
  done < <(find "$dir" -maxdepth 1 -name '*.yaml' ! -name rollout.yaml -printf '%f\n' | sort)
  sp_python "$SP_LIB_DIR/manifests.py" AppProject "$projects" "${sources[@]}" ||
    sp_die "$SP_EX_DATAERR" "cannot read the AppProject from $dir (see above)"
  if [[ -s "$projects" ]]; then
    kube_apply "the AppProject(s) of argocd/" -f "$projects"
  else
    sp_warn "no AppProject found in $dir; the Applications need one"
  fi
  case "$apps" in
    applications) file=application.yaml ;;
    applicationset) file=applicationset.yaml ;;
    none) return 0 ;;
  esac
  [[ -f "$dir/$file" ]] || sp_die "$SP_EX_NOINPUT" "$dir/$file is missing"
  if $lab && [[ "$apps" == applicationset ]]; then
    sp_warn "the lab runs no ApplicationSet controller: the ApplicationSet is applied but generates nothing"
  fi
  kube_apply "argocd/$file" -f "$(repository_file "$file")"
}

create_repository_secret() {
  [[ -n "${ARGOCD_REPO_URL:-}" ]] || {
    sp_log "ARGOCD_REPO_URL not set: not creating a repository Secret (public repository, or created elsewhere)"
    return 0
  }
  local args=(create secret generic repo-sre-platform -n argocd --dry-run=client -o yaml
    --from-literal=type=git --from-literal=url="$ARGOCD_REPO_URL")
  if [[ -n "${ARGOCD_REPO_SSH_KEY_FILE:-}" ]]; then
    [[ -f "$ARGOCD_REPO_SSH_KEY_FILE" ]] || sp_die "$SP_EX_NOINPUT" "ARGOCD_REPO_SSH_KEY_FILE=$ARGOCD_REPO_SSH_KEY_FILE is missing"
    args+=(--from-file=sshPrivateKey="$ARGOCD_REPO_SSH_KEY_FILE")
  elif [[ -n "${ARGOCD_REPO_USERNAME:-}" && -n "${ARGOCD_REPO_PASSWORD:-}" ]]; then
    # Through files, so the password is never on a command line (ps).
    (umask 077 && printf '%s' "$ARGOCD_REPO_USERNAME" >"$work/username" && printf '%s' "$ARGOCD_REPO_PASSWORD" >"$work/password")
    args+=(--from-file=username="$work/username" --from-file=password="$work/password")
  else
    sp_die "$SP_EX_USAGE" "ARGOCD_REPO_URL is set: also set ARGOCD_REPO_SSH_KEY_FILE, or ARGOCD_REPO_USERNAME and ARGOCD_REPO_PASSWORD"
  fi
  sp_log "applying the repository Secret argocd/repo-sre-platform for $(sp_redact_url "$ARGOCD_REPO_URL")"
  sp_kubectl "${args[@]}" |
    sp_kubectl label --local -f - -o yaml argocd.argoproj.io/secret-type=repository |
    sp_kubectl "${apply_args[@]}" -f - >/dev/null ||
    sp_die "$SP_EX_FAIL" "could not apply the repository Secret"
}

# --- run ------------------------------------------------------------------------------------

if $lab; then
  install_lab
else
  install_argocd_cluster
  install_rollouts_cluster
fi
create_repository_secret
apply_repository_objects

mode=$($dry_run && echo "checked (server-side dry run)" || echo "installed")
echo "setup-argocd: ArgoCD $argocd_version and Argo Rollouts $rollouts_version $mode on $(sp_cluster_describe); applied argocd/ ($apps)"
if ! $lab && ! $dry_run; then
  cat >&2 <<NEXT
Next:
  initial admin password:  argocd admin initial-password -n argocd   (then rotate it and delete argocd-initial-admin-secret)
  UI:                      kubectl ${SP_KUBE_ARGS[*]} -n argocd port-forward svc/argocd-server 8080:443
  rollouts:                scripts/promote-canary.sh status <env> sre-platform
NEXT
fi
