# shellcheck shell=bash
# Argo Rollouts helpers for the operational scripts; needs common.sh sourced first and an
# environment loaded (sp_load_env, sp_kube_args_from_env). The kubectl-argo-rollouts
# plugin decides the phase, so the scripts report exactly what `kubectl argo rollouts`
# would show a person.

# sp_rollouts ARGS...: the plugin against the loaded environment's cluster and namespace.
sp_rollouts() {
  SP_ROLLOUTS=${SP_ROLLOUTS:-$(sp_rollouts_bin)}
  "$SP_ROLLOUTS" "${SP_KUBE_ARGS[@]}" --namespace "$SP_ENV_NAMESPACE" "$@"
}

# sp_workload_kind NAME: "Rollout" or "Deployment" (what the chart rendered), else exit 65
# naming what exists. Exit 69 when the cluster refuses to answer.
sp_workload_kind() {
  local name=$1 err
  if err=$(sp_kubectl --request-timeout=15s -n "$SP_ENV_NAMESPACE" get "rollouts.argoproj.io/$name" -o name 2>&1); then
    echo Rollout
    return
  fi
  if [[ "$err" != *NotFound* && "$err" != *"doesn't have a resource type"* && "$err" != *"the server could not find the requested resource"* ]]; then
    sp_die "$SP_EX_UNAVAILABLE" "cannot read rollouts in namespace $SP_ENV_NAMESPACE: ${err//$'\n'/ }"
  fi
  if sp_kubectl --request-timeout=15s -n "$SP_ENV_NAMESPACE" get "deployments.apps/$name" -o name >/dev/null 2>&1; then
    echo Deployment
    return
  fi
  local known
  known=$(sp_kubectl --request-timeout=15s -n "$SP_ENV_NAMESPACE" get rollouts.argoproj.io,deployments.apps -o name 2>/dev/null | paste -sd, - | sed 's/,/, /g')
  sp_die "$SP_EX_DATAERR" "no Rollout or Deployment named '$name' in namespace $SP_ENV_NAMESPACE of environment '$SP_ENV_LOADED'; found: ${known:-nothing}"
}

# sp_workload_of_release RELEASE: "Rollout <name>" or "Deployment <name>" of a Helm release
# (found by its app.kubernetes.io/instance label, since the chart names the workload
# <release> or <release>-sre-platform). Exit 65 when the release has none.
sp_workload_of_release() {
  local release=$1 found err
  if ! found=$(sp_kubectl --request-timeout=15s -n "$SP_ENV_NAMESPACE" get rollouts.argoproj.io \
    -l "app.kubernetes.io/instance=$release" -o 'jsonpath={range .items[*]}Rollout {.metadata.name}{"\n"}{end}' 2>&1); then
    [[ "$found" == *"doesn't have a resource type"* || "$found" == *"could not find the requested resource"* ]] ||
      sp_die "$SP_EX_UNAVAILABLE" "cannot list rollouts in namespace $SP_ENV_NAMESPACE: ${found//$'\n'/ }"
    found=""
  fi
  if [[ -z "$found" ]]; then
    found=$(sp_kubectl --request-timeout=15s -n "$SP_ENV_NAMESPACE" get deployments.apps \
      -l "app.kubernetes.io/instance=$release" -o 'jsonpath={range .items[*]}Deployment {.metadata.name}{"\n"}{end}' 2>&1) ||
      { err=$found; sp_die "$SP_EX_UNAVAILABLE" "cannot list deployments in namespace $SP_ENV_NAMESPACE: ${err//$'\n'/ }"; }
  fi
  [[ -n "$found" ]] || sp_die "$SP_EX_DATAERR" "release $release has no Rollout or Deployment in namespace $SP_ENV_NAMESPACE"
  head -n 1 <<<"$found"
}

# sp_require_rollout NAME: NAME is an Argo Rollout (not a plain Deployment), else exit 65.
sp_require_rollout() {
  local kind
  kind=$(sp_workload_kind "$1")
  if [[ "$kind" != Rollout ]]; then
    sp_die "$SP_EX_DATAERR" "'$1' in namespace $SP_ENV_NAMESPACE is a Deployment (rollouts.enabled is false for environment '$SP_ENV_LOADED'); there is no canary or blue-green to control"
  fi
}

# sp_rollout_status NAME: one line "<Phase>[ - <message>]" as the plugin reports it
# (Healthy, Progressing, Paused, Degraded). Exit 69 when the plugin cannot read it.
sp_rollout_status() {
  local out err_file rc=0
  err_file=$(mktemp)
  out=$(sp_rollouts status "$1" --watch=false 2>"$err_file") || rc=$?
  if [[ -z "$out" ]]; then
    local err
    err=$(tr '\n' ' ' <"$err_file")
    rm -f "$err_file"
    sp_die "$SP_EX_UNAVAILABLE" "cannot read the status of rollout $1 (exit $rc): $err"
  fi
  rm -f "$err_file"
  head -n 1 <<<"$out"
}

# sp_rollout_field NAME JSONPATH: one field of the Rollout object.
sp_rollout_field() {
  sp_kubectl --request-timeout=15s -n "$SP_ENV_NAMESPACE" get "rollouts.argoproj.io/$1" -o "jsonpath=$2" 2>/dev/null || true
}

# sp_rollout_progress_marker NAME: changes whenever the rollout moves (step, revision, abort).
sp_rollout_progress_marker() {
  sp_rollout_field "$1" '{.status.currentPodHash}/{.status.currentStepIndex}/{.status.abort}/{.status.stableRS}'
}

# sp_rollout_wait NAME UNTIL TIMEOUT_SECONDS [MARKER]: poll until the rollout is
#   Healthy (UNTIL=healthy) or Paused/Healthy (UNTIL=paused). With MARKER, a Paused state
#   counts only once the rollout has moved past MARKER (so a wait right after `promote`
#   does not stop at the pause it just left). Returns 0 when reached, 1 when Degraded,
#   75 on timeout. Prints each change of state with the time.
sp_rollout_wait() {
  local name=$1 until=$2 timeout=$3 marker=${4:-}
  local poll=${SP_POLL_SECONDS:-5} deadline last="" now state phase
  deadline=$(($(date +%s) + timeout))
  while :; do
    state=$(sp_rollout_status "$name")
    phase=${state%% *}
    if [[ "$state" != "$last" ]]; then
      printf '%s  %s\n' "$(date -u +%H:%M:%SZ)" "$state" >&2
      last=$state
    fi
    case "$phase" in
      Healthy) return 0 ;;
      Degraded) return 1 ;;
      Paused)
        if [[ "$until" == paused ]]; then
          if [[ -z "$marker" || "$(sp_rollout_progress_marker "$name")" != "$marker" ]]; then
            return 0
          fi
        fi
        ;;
    esac
    now=$(date +%s)
    if ((now >= deadline)); then
      sp_warn "timed out after ${timeout}s waiting for rollout $name to be ${until}, is: $state"
      return 75
    fi
    sleep "$poll"
  done
}

# sp_rollout_wait_retried NAME TIMEOUT_SECONDS: after `retry`, poll (every second) until the
#   controller has taken it up: until then the status still reads Degraded, the state before
#   the retry, not its outcome. Returns 0 once it is not Degraded, 75 on timeout.
sp_rollout_wait_retried() {
  local name=$1 timeout=$2 deadline state
  deadline=$(($(date +%s) + timeout))
  while state=$(sp_rollout_status "$name") && [[ "${state%% *}" == Degraded ]]; do
    if (($(date +%s) >= deadline)); then
      sp_warn "timed out after ${timeout}s waiting for the controller to take up the retry of $name, is: $state"
      return 75
    fi
    sleep 1
  done
}

# sp_deployment_wait NAME TIMEOUT_SECONDS: kubectl rollout status for the plain Deployment.
sp_deployment_wait() {
  local out rc=0
  out=$(sp_kubectl -n "$SP_ENV_NAMESPACE" rollout status "deployment/$1" --timeout="${2}s" 2>&1) || rc=$?
  printf '%s\n' "$out" >&2
  if [[ $rc -ne 0 ]]; then
    [[ "$out" == *"timed out"* ]] && return 75
    return 1
  fi
}
