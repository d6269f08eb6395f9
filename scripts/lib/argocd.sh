# shellcheck shell=bash
# ArgoCD helpers: refresh, sync and wait for an Application. Needs common.sh and a loaded
# environment (SP_ENV_ARGOCD_*). Uses the argocd CLI when it is available (PATH, $ARGOCD or
# the pinned build); otherwise it drives the Application object through the Kubernetes API
# (an `argocd.argoproj.io/refresh` annotation and the `.operation` field, the same
# mechanism the CLI uses), so a deploy needs no ArgoCD API credentials, only Kubernetes RBAC.

SP_ARGOCD_ARGS=()
SP_ARGOCD=""

# sp_argocd_init: choose CLI or Kubernetes API; with the CLI, --server/--core/--grpc-web.
sp_argocd_init() {
  SP_ARGOCD_APP=$SP_ENV_ARGOCD_APPLICATION
  SP_ARGOCD_NS=${SP_ENV_ARGOCD_NAMESPACE:-argocd}
  SP_ARGOCD=""
  SP_ARGOCD_ARGS=()
  if [[ -n "${ARGOCD:-}" ]] || command -v argocd >/dev/null 2>&1; then
    SP_ARGOCD=$(sp_argocd_bin)
    if [[ -n "${SP_ENV_ARGOCD_SERVER:-}" ]]; then
      SP_ARGOCD_ARGS+=(--server "$SP_ENV_ARGOCD_SERVER")
    elif [[ -z "${ARGOCD_SERVER:-}" ]]; then
      SP_ARGOCD_ARGS+=(--core) # no API server given: talk to the Kubernetes API directly
      [[ -n "${SP_ENV_CLUSTER_KUBECONFIG:-}" ]] && export KUBECONFIG=$SP_ENV_CLUSTER_KUBECONFIG
      [[ -n "${SP_ENV_CLUSTER_CONTEXT:-}" ]] && SP_ARGOCD_ARGS+=(--kube-context "$SP_ENV_CLUSTER_CONTEXT")
    fi
    [[ "${SP_ENV_ARGOCD_GRPC_WEB:-}" == true ]] && SP_ARGOCD_ARGS+=(--grpc-web)
  fi
}

sp_argocd_describe() {
  if [[ -n "$SP_ARGOCD" ]]; then echo "argocd CLI (${SP_ARGOCD_ARGS[*]})"; else echo "the Kubernetes API"; fi
}

# sp_argocd_field JSONPATH: one field of the Application (empty when absent).
sp_argocd_field() {
  sp_kubectl --request-timeout=15s -n "$SP_ARGOCD_NS" get "applications.argoproj.io/$SP_ARGOCD_APP" -o "jsonpath=$1" 2>/dev/null || true
}

# sp_argocd_require: the Application exists and is readable, else exit 69 naming it.
sp_argocd_require() {
  local err
  if [[ -n "$SP_ARGOCD" ]]; then
    err=$("$SP_ARGOCD" "${SP_ARGOCD_ARGS[@]}" app get "$SP_ARGOCD_APP" -o name 2>&1 >/dev/null) ||
      sp_die "$SP_EX_UNAVAILABLE" "ArgoCD application $SP_ARGOCD_APP is not reachable through $(sp_argocd_describe): ${err//$'\n'/ }"
  else
    err=$(sp_kubectl --request-timeout=15s -n "$SP_ARGOCD_NS" get "applications.argoproj.io/$SP_ARGOCD_APP" -o name 2>&1 >/dev/null) ||
      sp_die "$SP_EX_UNAVAILABLE" "ArgoCD application $SP_ARGOCD_NS/$SP_ARGOCD_APP is not readable: ${err//$'\n'/ }"
  fi
}

# sp_argocd_refresh: make ArgoCD read git now instead of at its next poll (3 min by default).
sp_argocd_refresh() {
  if [[ -n "$SP_ARGOCD" ]]; then
    "$SP_ARGOCD" "${SP_ARGOCD_ARGS[@]}" app get "$SP_ARGOCD_APP" --hard-refresh >/dev/null
  else
    sp_kubectl -n "$SP_ARGOCD_NS" annotate "applications.argoproj.io/$SP_ARGOCD_APP" \
      argocd.argoproj.io/refresh=hard --overwrite >/dev/null
  fi
}

# sp_argocd_sync: start a sync to the latest commit of the Application's targetRevision.
# With automated sync ArgoCD does this itself after the refresh; a manual-sync
# Application (production) is synced here, which is the 'sync by hand' step.
sp_argocd_sync() {
  if [[ -n "$SP_ARGOCD" ]]; then
    sp_run "$SP_ARGOCD" "${SP_ARGOCD_ARGS[@]}" app sync "$SP_ARGOCD_APP" --async >&2
    return
  fi
  if [[ -n "$(sp_argocd_field '{.spec.syncPolicy.automated}')" ]]; then
    sp_log "$SP_ARGOCD_APP syncs automatically; refreshed it"
    return 0
  fi
  local initiator=${GITHUB_ACTOR:-${USER:-sre-platform}} operation
  sp_log "starting a sync of $SP_ARGOCD_APP (initiated by $initiator)"
  # As argocd-server's Sync does: the Application's syncOptions (CreateNamespace=true,
  # PruneLast=true, ... act only through the operation) and retry strategy go into it.
  operation=$(sp_kubectl --request-timeout=15s -n "$SP_ARGOCD_NS" get "applications.argoproj.io/$SP_ARGOCD_APP" -o json |
    sp_python -c '
import json, sys
policy = (json.load(sys.stdin).get("spec") or {}).get("syncPolicy") or {}
sync = {"syncStrategy": {"hook": {}}}
if policy.get("syncOptions"):
    sync["syncOptions"] = policy["syncOptions"]
operation = {"initiatedBy": {"username": sys.argv[1]}, "sync": sync}
if policy.get("retry"):
    operation["retry"] = policy["retry"]
print(json.dumps({"operation": operation}))
' "$initiator") || sp_die "$SP_EX_UNAVAILABLE" "cannot read Application $SP_ARGOCD_NS/$SP_ARGOCD_APP"
  sp_kubectl -n "$SP_ARGOCD_NS" patch "applications.argoproj.io/$SP_ARGOCD_APP" --type merge -p "$operation" >/dev/null
}

# sp_argocd_wait_synced REVISION TIMEOUT_SECONDS: wait until the Application is Synced at
# the git commit REVISION (full SHA) and no operation runs. 0 ok, 1 sync failed, 75 timeout.
sp_argocd_wait_synced() {
  local revision=$1 timeout=$2 deadline state last="" sync rev op health
  deadline=$(($(date +%s) + timeout))
  while :; do
    state=$(sp_argocd_field '{.status.sync.status}|{.status.sync.revision}|{.status.operationState.phase}|{.status.health.status}')
    IFS='|' read -r sync rev op health <<<"$state"
    if [[ "$state" != "$last" ]]; then
      printf '%s  %s: sync %s at %s, operation %s, health %s\n' "$(date -u +%H:%M:%SZ)" "$SP_ARGOCD_APP" \
        "${sync:-?}" "${rev:0:12}" "${op:-none}" "${health:-?}" >&2
      last=$state
    fi
    if [[ "$rev" == "$revision" && "$sync" == Synced && "$op" != Running ]]; then
      [[ "$op" == Failed || "$op" == Error ]] && return 1
      return 0
    fi
    if [[ "$rev" == "$revision" && ("$op" == Failed || "$op" == Error) ]]; then
      sp_warn "$SP_ARGOCD_APP: sync operation $op: $(sp_argocd_field '{.status.operationState.message}')"
      return 1
    fi
    if (($(date +%s) >= deadline)); then
      sp_warn "timed out after ${timeout}s waiting for $SP_ARGOCD_APP to be Synced at ${revision:0:12}, is: ${sync:-?} at ${rev:0:12}"
      return 75
    fi
    sleep "${SP_POLL_SECONDS:-5}"
  done
}
