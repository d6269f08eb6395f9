#!/usr/bin/env bash
# Promote, abort, retry or inspect an Argo Rollouts canary or blue-green update of one
# environment, through the `kubectl argo rollouts` plugin. The namespace and the cluster
# (kubeconfig/context) come from environments/<env>.yaml.
set -euo pipefail

# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SP_PROG=promote-canary
# shellcheck source=scripts/lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/rollouts.sh disable=SC1091
source "$SP_LIB_DIR/rollouts.sh"
# shellcheck source=scripts/lib/argocd.sh disable=SC1091
source "$SP_LIB_DIR/argocd.sh"

usage() {
  cat <<USAGE
Usage: scripts/promote-canary.sh <action> <env> <app> [options]

Control the Argo Rollouts update of <app> (the Rollout's name, normally the Helm release,
e.g. sre-platform) in environment <env> (a file in environments/: $(sp_known_envs 2>/dev/null || echo dev, staging, production, lab)).

Actions:
  status    show the rollout (steps, weights, ReplicaSets, AnalysisRuns) and its phase
  promote   canary: promote to full rollout (100% on the new version, the remaining
            steps, pauses and analysis skipped); with --step only the next step;
            blue-green: switch the active Service to the new version
  abort     stop the update: all traffic and replicas back to the stable version
            (the rollout becomes Degraded until retried or updated)
  retry     restart an aborted update from its first step

Options:
  --step              with promote on a canary: leave the current pause and go to the
                      next step only (the analysis of the later steps still runs)
  --full              with promote: skip every remaining step, pause and analysis (the
                      default for a canary; with blue-green it also skips the
                      post-promotion analysis)
  --force             with promote --step: promote even when the rollout is not paused
                      (skips the step in progress, including a running analysis)
  --wait              after the action (or with status), wait until the rollout is Healthy
  --until STATE       with --wait: healthy (default) or paused (the next pause, e.g.
                      blue-green's preview awaiting promotion); Healthy also ends the wait
  --timeout DURATION  how long --wait waits (default: the environment's timeouts.rollout,
                      else 30m), e.g. 90s, 15m, 1h
  --expect-tag TAG    with status --wait: first wait until the Rollout runs image tag TAG
                      (asking ArgoCD to refresh when it manages the environment), so a wait
                      started right after a GitOps commit does not end on the old version
  -n, --namespace NS  the rollout's namespace (default: the environment's namespace)
  --kubeconfig FILE   kubeconfig (default: the environment's cluster.kubeconfig)
  --context NAME      kubeconfig context (default: the environment's cluster.context)
  -h, --help          this help

Tools: kubectl-argo-rollouts from \$KUBECTL_ARGO_ROLLOUTS, PATH, or the pinned build in
\$SRE_PLATFORM_CACHE/tools/argo-rollouts/<version>/; kubectl likewise (\$KUBECTL).

Exit codes:
  0   done (status: the rollout is Healthy, Progressing or Paused; abort: the rollout is
      aborted, now or already; --wait: the state was reached)
  1   the rollout is Degraded (aborted or failed), or the plugin refused the action
  64  wrong arguments
  65  unknown environment, malformed environment file, or no such Rollout
  66  the environment's kubeconfig file is missing
  69  the cluster is unreachable, Argo Rollouts is not installed, or a tool is missing
  75  timed out waiting (--wait)

Examples:
  scripts/promote-canary.sh status production sre-platform
  scripts/promote-canary.sh promote production sre-platform --wait
  scripts/promote-canary.sh promote production sre-platform --step --wait --until paused
  scripts/promote-canary.sh abort staging sre-platform
  scripts/promote-canary.sh status production sre-platform --wait --timeout 45m
USAGE
}

action="" env="" app="" full=false step=false force=false wait=false until=healthy timeout="" expect_tag=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --full) full=true ;;
    --step) step=true ;;
    --force) force=true ;;
    --wait) wait=true ;;
    --until) sp_need_value "$1" $#; until=$2; shift ;;
    --until=*) until=${1#*=} ;;
    --timeout) sp_need_value "$1" $#; timeout=$2; shift ;;
    --timeout=*) timeout=${1#*=} ;;
    --expect-tag) sp_need_value "$1" $#; expect_tag=$2; shift ;;
    --expect-tag=*) expect_tag=${1#*=} ;;
    *) sp_common_arg "$@"; shift $((SP_OPTION_WORDS - 1)) ;;
  esac
  shift
done

sp_expect_args 3 "expected <action> <env> <app>, got ${#SP_ARGS[@]} argument(s): ${SP_ARGS[*]}"
action=${SP_ARGS[0]} env=${SP_ARGS[1]} app=${SP_ARGS[2]}

case "$action" in
  promote | abort | status | retry) ;;
  *) sp_usage_error "unknown action '$action' (one of: promote, abort, status, retry)" ;;
esac
[[ "$until" == healthy || "$until" == paused ]] || sp_usage_error "--until must be healthy or paused, not '$until'"
$full && [[ "$action" != promote ]] && sp_usage_error "--full only applies to promote"
$step && [[ "$action" != promote ]] && sp_usage_error "--step only applies to promote"
$step && $full && sp_usage_error "--step and --full exclude each other"
$force && ! $step && sp_usage_error "--force only applies to promote --step"
if [[ -n "$timeout" ]] && ! $wait; then
  sp_usage_error "--timeout only applies with --wait"
fi
if [[ -n "$expect_tag" ]]; then
  if [[ "$action" != status ]] || ! $wait; then
    sp_usage_error "--expect-tag only applies to status --wait"
  fi
  [[ "$expect_tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || sp_usage_error "--expect-tag '$expect_tag' is not a valid image tag"
fi
[[ "$app" =~ ^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$ ]] || sp_usage_error "'$app' is not a valid Rollout name"

sp_load_env "$env"
sp_override_cluster
sp_kube_args_from_env
timeout_seconds=$(sp_duration_seconds "${timeout:-${SP_ENV_TIMEOUTS_ROLLOUT:-30m}}")

sp_require_cluster
SP_ROLLOUTS=$(sp_rollouts_bin)
sp_require_rollout "$app"

where="rollout $app in $env (namespace $SP_ENV_NAMESPACE)"
state=$(sp_rollout_status "$app")
phase=${state%% *}
marker=$(sp_rollout_progress_marker "$app")

finish() {
  # finish: the final state as the script's result, with --wait honoured.
  local rc=0
  if $wait; then
    sp_rollout_wait "$app" "$until" "$timeout_seconds" "${1:-}" || rc=$?
  fi
  state=$(sp_rollout_status "$app")
  echo "$where: $state"
  if [[ $rc -ne 0 ]]; then
    exit "$rc"
  fi
  [[ "${state%% *}" == Degraded ]] && exit "$SP_EX_FAIL"
  exit 0
}

# wait_for_tag: until the Rollout's pod template runs $expect_tag (within the timeout).
wait_for_tag() {
  local deadline image last=""
  deadline=$(($(date +%s) + timeout_seconds))
  if [[ "$SP_ENV_ARGOCD_ENABLED" == true ]]; then
    sp_argocd_init
    sp_argocd_refresh 2>/dev/null || sp_warn "could not ask ArgoCD to refresh $SP_ENV_ARGOCD_APPLICATION; waiting for its poll"
  fi
  while :; do
    image=$(sp_rollout_field "$app" '{.spec.template.spec.containers[0].image}')
    if [[ "$image" == *":$expect_tag" || "$image" == *":$expect_tag@"* ]]; then
      sp_log "$where now runs $image"
      break
    fi
    if [[ "$image" != "$last" ]]; then
      sp_log "waiting for $where to run tag $expect_tag (runs ${image:-nothing yet})"
      last=$image
    fi
    (($(date +%s) < deadline)) || sp_die "$SP_EX_TEMPFAIL" "timed out after ${timeout_seconds}s waiting for $where to run tag $expect_tag; it runs $image (is the GitOps commit pushed and synced?)"
    sleep "${SP_POLL_SECONDS:-5}"
  done
  timeout_seconds=$((deadline - $(date +%s)))
  ((timeout_seconds > 0)) || timeout_seconds=1
  # The controller needs a moment to see the new template; do not end on the old state.
  marker=""
  sleep "${SP_POLL_SECONDS:-5}"
}

case "$action" in
  status)
    [[ -n "$expect_tag" ]] && wait_for_tag
    sp_rollouts get rollout "$app" --no-color || true
    finish
    ;;
  promote)
    if [[ "$phase" == Healthy ]]; then
      sp_log "$where is already Healthy and fully promoted; nothing to promote"
      finish
    fi
    if [[ "$phase" == Degraded ]]; then
      sp_die "$SP_EX_FAIL" "$where is Degraded ($state); use 'retry' to restart the update, or fix and update it"
    fi
    blue_green=$(sp_rollout_field "$app" '{.spec.strategy.blueGreen}')
    # The seed's "promote canary to full rollout": a canary goes to 100% unless --step;
    # blue-green's promote is the switch of the active Service (its analysis still runs).
    if [[ -z "$blue_green" ]] && ! $step; then
      full=true
    fi
    if $step && [[ "$phase" != Paused ]] && ! $force; then
      sp_die "$SP_EX_FAIL" "$where is not paused ($state): promoting one step now would skip the step in progress; wait for the pause, or pass --force"
    fi
    args=(promote "$app")
    $full && args+=(--full)
    sp_log "promoting $where$($full && echo " to full rollout") (was: $state)"
    $full && sp_warn "a full promotion skips every remaining step and analysis (--step promotes one step)"
    sp_run "$SP_ROLLOUTS" "${SP_KUBE_ARGS[@]}" --namespace "$SP_ENV_NAMESPACE" "${args[@]}" >&2 ||
      sp_die "$SP_EX_FAIL" "kubectl argo rollouts promote failed for $where"
    finish "$marker"
    ;;
  abort)
    aborted=$(sp_rollout_field "$app" '{.status.abort}')
    if [[ "$aborted" == true ]]; then
      sp_log "$where is already aborted; nothing to do"
      echo "$where: $state"
      exit 0
    fi
    if [[ "$phase" == Healthy ]]; then
      sp_log "$where is Healthy: no update in progress, nothing to abort"
      finish
    fi
    sp_log "aborting $where (was: $state)"
    sp_run "$SP_ROLLOUTS" "${SP_KUBE_ARGS[@]}" --namespace "$SP_ENV_NAMESPACE" abort "$app" >&2 ||
      sp_die "$SP_EX_FAIL" "kubectl argo rollouts abort failed for $where"
    # An abort ends Degraded by design: that is the state --wait waits for here.
    if $wait; then
      rc=0
      sp_rollout_wait "$app" healthy "$timeout_seconds" || rc=$?
      [[ $rc -eq 75 ]] && exit "$SP_EX_TEMPFAIL"
    fi
    state=$(sp_rollout_status "$app")
    echo "$where: $state"
    exit 0
    ;;
  retry)
    aborted=$(sp_rollout_field "$app" '{.status.abort}')
    if [[ "$aborted" != true && "$phase" != Degraded ]]; then
      sp_log "$where is not aborted ($state); nothing to retry"
      finish
    fi
    sp_log "retrying $where (was: $state)"
    sp_run "$SP_ROLLOUTS" "${SP_KUBE_ARGS[@]}" --namespace "$SP_ENV_NAMESPACE" retry rollout "$app" >&2 ||
      sp_die "$SP_EX_FAIL" "kubectl argo rollouts retry failed for $where"
    sp_rollout_wait_retried "$app" "$timeout_seconds" || exit "$SP_EX_TEMPFAIL"
    finish "$marker"
    ;;
esac
