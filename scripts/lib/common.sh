# shellcheck shell=bash
# Shared by the operational scripts (setup-argocd.sh, promote-canary.sh, rollback.sh,
# validate-deployment.sh): exit codes, messages, environment files, pinned tools, the
# cluster connection. Source it; it defines functions and SP_* variables and runs nothing.
#
# Conventions: results go to stdout, progress and errors to stderr, each line prefixed
# with the script's name. Exit codes follow docs/interfaces.md (sysexits.h).

# Exit codes (docs/interfaces.md).
readonly SP_EX_OK=0
readonly SP_EX_FAIL=1
readonly SP_EX_USAGE=64
readonly SP_EX_DATAERR=65
readonly SP_EX_NOINPUT=66
readonly SP_EX_UNAVAILABLE=69
readonly SP_EX_SOFTWARE=70
readonly SP_EX_TEMPFAIL=75
export SP_EX_OK SP_EX_FAIL SP_EX_USAGE SP_EX_DATAERR SP_EX_NOINPUT SP_EX_UNAVAILABLE SP_EX_SOFTWARE SP_EX_TEMPFAIL

SP_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SP_LIB_DIR="$SP_REPO_ROOT/scripts/lib"
SP_PROG=${SP_PROG:-$(basename "$0" .sh)}

# --- messages -------------------------------------------------------------------------

sp_log() { printf '%s: %s\n' "$SP_PROG" "$*" >&2; }
sp_warn() { printf '%s: warning: %s\n' "$SP_PROG" "$*" >&2; }

# sp_die CODE MESSAGE...: print the message and exit with CODE.
sp_die() {
  local code=$1
  shift
  printf '%s: error: %s\n' "$SP_PROG" "$*" >&2
  exit "$code"
}

# sp_usage_error MESSAGE: a wrong argument (64), pointing at --help.
sp_usage_error() {
  printf '%s: %s\n' "$SP_PROG" "$*" >&2
  printf "Run '%s --help' for usage.\n" "$0" >&2
  exit "$SP_EX_USAGE"
}

# sp_run CMD...: echo a command (as it would be typed) to stderr, then run it.
sp_run() {
  printf '%s: $' "$SP_PROG" >&2
  printf ' %q' "$@" >&2
  printf '\n' >&2
  "$@"
}

# sp_redact_url URL: the URL without user:password@ (never print a credential).
sp_redact_url() { sed -E 's#(://)[^/@]*@#\1***@#' <<<"$1"; }

# --- values ---------------------------------------------------------------------------

# sp_duration_seconds DURATION: 90, 90s, 15m, 2h -> seconds on stdout; 64 when malformed.
sp_duration_seconds() {
  local d=$1
  if [[ "$d" =~ ^([0-9]+)(s?)$ ]]; then
    echo "${BASH_REMATCH[1]}"
  elif [[ "$d" =~ ^([0-9]+)m$ ]]; then
    echo $((BASH_REMATCH[1] * 60))
  elif [[ "$d" =~ ^([0-9]+)h$ ]]; then
    echo $((BASH_REMATCH[1] * 3600))
  else
    sp_usage_error "'$d' is not a duration (examples: 90s, 15m, 1h)"
  fi
}

# sp_need_value OPTION ARGC: an option that takes a value must have one.
sp_need_value() {
  [[ $2 -ge 2 ]] || sp_usage_error "option $1 needs a value"
}

# --- Python helpers (scripts/lib/*.py use the project's .venv) -----------------------

sp_python() {
  local venv_python="$SP_REPO_ROOT/.venv/bin/python"
  if [[ -n "${SP_PYTHON:-}" ]]; then
    "$SP_PYTHON" "$@"
  elif [[ -x "$venv_python" ]]; then
    "$venv_python" "$@"
  elif command -v python3 >/dev/null && python3 -c 'import yaml, jsonschema' 2>/dev/null; then
    python3 "$@"
  else
    sp_die "$SP_EX_UNAVAILABLE" "no Python with PyYAML and jsonschema: run 'make setup' (creates $SP_REPO_ROOT/.venv)"
  fi
}

# sp_known_envs: the environment names, comma separated.
sp_known_envs() { sp_python "$SP_LIB_DIR/envfile.py" list | paste -sd, - | sed 's/,/, /g'; }

# sp_load_env ENV: validate environments/ENV.yaml and define SP_ENV_* variables from it
# (SP_ENV_NAMESPACE, SP_ENV_CLUSTER_CONTEXT, SP_ENV_GITOPS_VALUES_FILE, ...).
# Unknown environment or malformed file: envfile.py's message and its exit code (65).
sp_load_env() {
  local out err_file rc=0
  err_file=$(mktemp)
  out=$(sp_python "$SP_LIB_DIR/envfile.py" shell "$1" 2>"$err_file") || rc=$?
  if [[ $rc -ne 0 ]]; then
    # envfile.py names the file and key, or lists the known environments.
    sed "s/^envfile: /$SP_PROG: error: /" "$err_file" >&2
    rm -f "$err_file"
    exit "$rc"
  fi
  rm -f "$err_file"
  eval "$out"
  SP_ENV_LOADED=$1
}

# The cluster options of the scripts (-n/--namespace NS, --kubeconfig FILE, --context NAME):
# command-line overrides of the loaded environment (empty = keep the file's value). The e2e
# tier uses them to point a script at its own namespace, or at a kind cluster, with the
# environment's other settings.
SP_NAMESPACE_OPTION="" SP_KUBECONFIG_OPTION="" SP_CONTEXT_OPTION=""
# --env ENV of the scripts that take the environment as an option (setup-argocd.sh,
# install-admission.sh), read by sp_cluster_option too; they use it after their loop.
# shellcheck disable=SC2034 # read by the calling script
SP_ENV_OPTION=""

# sp_cluster_option "$@": read the cluster option at the front of the arguments, as
# "OPTION VALUE" or "OPTION=VALUE"; SP_OPTION_WORDS is how many words it took. In an
# argument loop that ends in `shift`:
#   -n | --namespace | --namespace=* | --kubeconfig | --kubeconfig=* | --context | --context=*)
#     sp_cluster_option "$@"; shift $((SP_OPTION_WORDS - 1)) ;;
sp_cluster_option() {
  local value
  # shellcheck disable=SC2034 # SP_OPTION_WORDS is read by the calling script
  if [[ "$1" == *=* ]]; then
    value=${1#*=}
    SP_OPTION_WORDS=1
  else
    sp_need_value "$1" $#
    value=$2
    SP_OPTION_WORDS=2
  fi
  # shellcheck disable=SC2034 # SP_ENV_OPTION is read by the calling script
  case "${1%%=*}" in
    -n | --namespace) SP_NAMESPACE_OPTION=$value ;;
    --kubeconfig) SP_KUBECONFIG_OPTION=$value ;;
    --context) SP_CONTEXT_OPTION=$value ;;
    --env) SP_ENV_OPTION=$value ;;
    *) sp_usage_error "unknown option '$1'" ;;
  esac
}

# sp_common_arg "$@": the arguments a script with operands (promote-canary.sh, rollback.sh)
# reads after its own options, at the front of "$@": a cluster option, `--` (the rest are
# operands), an unknown option (a usage error), or an operand; operands are appended to
# SP_ARGS, SP_OPTION_WORDS is how many words it took. The last arm of the argument loop:
#   *) sp_common_arg "$@"; shift $((SP_OPTION_WORDS - 1)) ;;
SP_ARGS=()
# shellcheck disable=SC2034 # SP_OPTION_WORDS is read by the calling script
sp_common_arg() {
  case "$1" in
    -n | --namespace | --namespace=* | --kubeconfig | --kubeconfig=* | --context | --context=*)
      sp_cluster_option "$@" ;;
    --) SP_ARGS+=("${@:2}"); SP_OPTION_WORDS=$# ;;
    -*) sp_usage_error "unknown option '$1'" ;;
    *) SP_ARGS+=("$1"); SP_OPTION_WORDS=1 ;;
  esac
}

# sp_expect_args N MESSAGE: exactly N operands in SP_ARGS; none at all prints the usage
# (exit 64), another count is the usage error MESSAGE.
sp_expect_args() {
  [[ ${#SP_ARGS[@]} -eq $1 ]] && return 0
  [[ ${#SP_ARGS[@]} -eq 0 ]] && { usage >&2; exit "$SP_EX_USAGE"; }
  sp_usage_error "$2"
}

# sp_override_cluster: apply the cluster options over the loaded environment.
sp_override_cluster() {
  if [[ -n "$SP_NAMESPACE_OPTION" ]]; then
    [[ "$SP_NAMESPACE_OPTION" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] ||
      sp_usage_error "'$SP_NAMESPACE_OPTION' is not a valid namespace"
    # shellcheck disable=SC2034 # read by the scripts that source this file
    SP_ENV_NAMESPACE=$SP_NAMESPACE_OPTION
  fi
  if [[ -n "$SP_KUBECONFIG_OPTION" ]]; then
    SP_ENV_CLUSTER_KUBECONFIG=$SP_KUBECONFIG_OPTION
    SP_KUBECONFIG_FROM_FLAG=true
  fi
  [[ -n "$SP_CONTEXT_OPTION" ]] && SP_ENV_CLUSTER_CONTEXT=$SP_CONTEXT_OPTION
  return 0
}

# --- pinned tools ---------------------------------------------------------------------

sp_cache_root() { echo "${SRE_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sre-platform}"; }

# sp_pinned_version KEY: the value of KEY (e.g. ARGO_ROLLOUTS_VERSION) in tools/versions.env.
sp_pinned_version() {
  local file="$SP_REPO_ROOT/tools/versions.env"
  [[ -f "$file" ]] || sp_die "$SP_EX_NOINPUT" "$file is missing"
  sed -n "s/^$1=//p" "$file" | tail -n 1
}

# sp_find_tool BINARY OVERRIDE_VAR TOOL_DIR VERSION_KEY: print the path of a tool.
# Looks at $OVERRIDE_VAR, then PATH, then the pinned build in the cache
# ($SRE_PLATFORM_CACHE/tools/<TOOL_DIR>/<version>/<BINARY>, docs/interfaces.md).
sp_find_tool() {
  local binary=$1 override_var=$2 tool_dir=$3 version_key=$4
  local override=${!override_var:-}
  if [[ -n "$override" ]]; then
    [[ -x "$override" ]] || sp_die "$SP_EX_UNAVAILABLE" "\$$override_var=$override is not an executable file"
    echo "$override"
    return
  fi
  if command -v "$binary" >/dev/null 2>&1; then
    command -v "$binary"
    return
  fi
  local version built
  version=$(sp_pinned_version "$version_key")
  built="$(sp_cache_root)/tools/$tool_dir/$version/$binary"
  if [[ -n "$version" && -x "$built" ]]; then
    echo "$built"
    return
  fi
  sp_die "$SP_EX_UNAVAILABLE" "$binary not found: not in \$$override_var, not on PATH, not built at $built (run 'make tools')"
}

sp_kubectl_bin() { sp_find_tool kubectl KUBECTL kubernetes KUBERNETES_VERSION; }
sp_rollouts_bin() { sp_find_tool kubectl-argo-rollouts KUBECTL_ARGO_ROLLOUTS argo-rollouts ARGO_ROLLOUTS_VERSION; }
sp_helm_bin() { sp_find_tool helm HELM helm HELM_VERSION; }
sp_argocd_bin() { sp_find_tool argocd ARGOCD argo-cd ARGO_CD_VERSION; }

# --- the cluster ----------------------------------------------------------------------

# SP_KUBE_ARGS: --kubeconfig/--context for the loaded environment (kubectl, the rollouts
# plugin and helm all take these two flags; helm spells the second --kube-context).
SP_KUBE_ARGS=()
SP_HELM_KUBE_ARGS=()

sp_kube_args_from_env() {
  SP_KUBE_ARGS=()
  SP_HELM_KUBE_ARGS=()
  if [[ -n "${SP_ENV_CLUSTER_KUBECONFIG:-}" ]]; then
    if [[ ! -f "$SP_ENV_CLUSTER_KUBECONFIG" ]]; then
      local hint=""
      if [[ -n "${SP_ENV_LOADED:-}" && -z "${SP_KUBECONFIG_FROM_FLAG:-}" ]]; then
        hint=" (cluster.kubeconfig of environment '$SP_ENV_LOADED')"
        [[ "$SP_ENV_LOADED" == lab ]] && hint+="; start the lab: make lab-up"
      fi
      sp_die "$SP_EX_NOINPUT" "kubeconfig $SP_ENV_CLUSTER_KUBECONFIG is missing$hint"
    fi
    SP_KUBE_ARGS+=(--kubeconfig "$SP_ENV_CLUSTER_KUBECONFIG")
    SP_HELM_KUBE_ARGS+=(--kubeconfig "$SP_ENV_CLUSTER_KUBECONFIG")
  fi
  if [[ -n "${SP_ENV_CLUSTER_CONTEXT:-}" ]]; then
    SP_KUBE_ARGS+=(--context "$SP_ENV_CLUSTER_CONTEXT")
    SP_HELM_KUBE_ARGS+=(--kube-context "$SP_ENV_CLUSTER_CONTEXT")
  fi
}

# sp_kubectl ARGS...: kubectl against the loaded environment's cluster.
sp_kubectl() { "$SP_KUBECTL" "${SP_KUBE_ARGS[@]}" "$@"; }

# sp_cluster_describe: "context X (server URL)" for messages.
sp_cluster_describe() {
  local ctx server
  ctx=${SP_ENV_CLUSTER_CONTEXT:-$("$SP_KUBECTL" "${SP_KUBE_ARGS[@]}" config current-context 2>/dev/null || echo '?')}
  server=$("$SP_KUBECTL" "${SP_KUBE_ARGS[@]}" config view --minify -o 'jsonpath={.clusters[0].cluster.server}' 2>/dev/null || true)
  echo "context '$ctx' (${server:-no server configured})${SP_ENV_CLUSTER_KUBECONFIG:+ from $SP_ENV_CLUSTER_KUBECONFIG}"
}

# sp_require_cluster: the API server answers within 10 s, else exit 69 naming it.
sp_require_cluster() {
  SP_KUBECTL=${SP_KUBECTL:-$(sp_kubectl_bin)}
  local err
  if ! err=$(sp_kubectl --request-timeout=10s get --raw /readyz 2>&1 >/dev/null); then
    # Some clusters restrict /readyz; /version is readable by every authenticated user.
    if ! err=$(sp_kubectl --request-timeout=10s get --raw /version 2>&1 >/dev/null); then
      local which="the cluster"
      [[ -n "${SP_ENV_LOADED:-}" ]] && which="the cluster of environment '$SP_ENV_LOADED'"
      sp_die "$SP_EX_UNAVAILABLE" "$which is unreachable: $(sp_cluster_describe): ${err//$'\n'/ }"
    fi
  fi
}

# sp_connect_cluster [ENV]: the cluster of environments/ENV.yaml, or with no ENV kubectl's
# current context, with the cluster options over it: kubectl found, the environment loaded,
# SP_KUBE_ARGS set, the API server answering (else exit 69), and the cluster logged.
sp_connect_cluster() {
  SP_KUBECTL=$(sp_kubectl_bin)
  if [[ -n "${1:-}" ]]; then
    sp_load_env "$1"
  else
    SP_ENV_LOADED=""
  fi
  sp_override_cluster
  sp_kube_args_from_env
  sp_require_cluster
  sp_log "cluster: $(sp_cluster_describe)"
}

# sp_in_github_actions: true inside a GitHub Actions job.
sp_in_github_actions() { [[ "${GITHUB_ACTIONS:-}" == "true" ]]; }
