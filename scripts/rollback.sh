#!/usr/bin/env bash
# Emergency GitOps rollback of one environment: put the previous image tag back in git
# (a `git revert` of the commit that last changed image.tag in helm/values-<env>.yaml, or
# a new commit setting --to TAG), push it, sync the cluster to what git holds, wait until
# healthy, and commit an incident record for the post-mortem.
#
# Git history is only ever added to: no force push, no reset, no amend, no rebase.
set -euo pipefail

# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SP_PROG=rollback
# shellcheck source=scripts/lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/rollouts.sh disable=SC1091
source "$SP_LIB_DIR/rollouts.sh"
# shellcheck source=scripts/lib/argocd.sh disable=SC1091
source "$SP_LIB_DIR/argocd.sh"

usage() {
  cat <<USAGE
Usage: scripts/rollback.sh <env> "<reason>" [options]

Roll environment <env> (a file in environments/: $(sp_known_envs 2>/dev/null || echo dev, staging, production, lab)) back to its
previous image tag through git, then bring the cluster to what git holds.

  1. git: revert the newest commit that changed image.tag in the environment's values file
     (helm/values-<env>.yaml), or with --to TAG commit image.tag = TAG. If that commit is
     already a rollback (or image.tag already is TAG) nothing new is committed.
  2. push to the branch's remote, when one is configured (never forced).
  3. sync: when ArgoCD manages the environment, an ArgoCD refresh + sync (argocd CLI when
     available, else through the Application object with kubectl); otherwise 'helm upgrade'
     of the chart and values exactly as committed. Then wait until the rollout is Healthy.
  4. write incidents/<date>-<env>.md (reason, tags, commits, operator, result), commit and
     push it, and print its path.
Running it again finishes what a failed run left undone and does not roll back twice.

Options:
  --to TAG            roll back to this image tag instead of the previous one
  --repo PATH         the GitOps repository (default: this repository, $SP_REPO_ROOT)
  --no-push           keep the commits local (do not fetch or push)
  --no-sync           only commit (and push); do not touch the cluster
  --promote-full      after the sync, skip the remaining canary steps and analysis of the
                      rollback update (when the bad version was already fully promoted,
                      the rollback otherwise walks every canary step again)
  --timeout DURATION  how long to wait for Healthy (default: the environment's
                      timeouts.rollout, else 30m), e.g. 90s, 15m
  --incident-dir DIR  folder for incident records, relative to the repository (default: incidents)
  --dry-run           show what would be committed and synced, change nothing
  -n, --namespace NS  namespace of the release (default: the environment's namespace)
  --release NAME      Helm release / Rollout name (default: the environment's release)
  --kubeconfig FILE   kubeconfig (default: the environment's cluster.kubeconfig)
  --context NAME      kubeconfig context (default: the environment's cluster.context)
  --values FILE       without ArgoCD only: an extra values file for 'helm upgrade', after the
                      environment's (repeatable; e.g. the e2e tier's shortened intervals).
                      The image tag always comes from git.
  -h, --help          this help

Environment: ARGOCD_SERVER / ARGOCD_AUTH_TOKEN for the argocd CLI (never in git);
KUBECTL, KUBECTL_ARGO_ROLLOUTS, HELM, ARGOCD override the tools found on PATH or in
\$SRE_PLATFORM_CACHE/tools.

Exit codes:
  0   rolled back (or already rolled back) and Healthy (or --no-sync)
  1   rolled back in git, but the rollout ended Degraded; or the push was rejected twice
  64  wrong arguments
  65  unknown environment, malformed environment or values file, nothing to roll back
      to, or the repository is not in a state to commit (wrong branch, staged changes,
      uncommitted change to the values file, diverged from its remote)
  66  the repository, its values file or the kubeconfig is missing
  69  the git remote, the cluster or ArgoCD is unreachable, or a tool is missing
  75  timed out waiting for Healthy; or another rollback holds the repository's lock

Examples:
  scripts/rollback.sh production "error rate spike after deploy"
  scripts/rollback.sh staging "p99 regression" --to 3f2c1d0
  scripts/rollback.sh lab "e2e scenario 8" --repo /tmp/gitops --no-push
USAGE
}

# --- arguments --------------------------------------------------------------------------

env="" reason="" to_tag="" repo="" push=true sync=true promote_full=false timeout="" incident_dir=incidents dry_run=false
release_override="" extra_values=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --to) sp_need_value "$1" $#; to_tag=$2; shift ;;
    --to=*) to_tag=${1#*=} ;;
    --repo) sp_need_value "$1" $#; repo=$2; shift ;;
    --repo=*) repo=${1#*=} ;;
    --no-push) push=false ;;
    --no-sync) sync=false ;;
    --promote-full) promote_full=true ;;
    --timeout) sp_need_value "$1" $#; timeout=$2; shift ;;
    --timeout=*) timeout=${1#*=} ;;
    --incident-dir) sp_need_value "$1" $#; incident_dir=$2; shift ;;
    --incident-dir=*) incident_dir=${1#*=} ;;
    --dry-run) dry_run=true ;;
    --release) sp_need_value "$1" $#; release_override=$2; shift ;;
    --release=*) release_override=${1#*=} ;;
    --values) sp_need_value "$1" $#; extra_values+=("$2"); shift ;;
    --values=*) extra_values+=("${1#*=}") ;;
    *) sp_common_arg "$@"; shift $((SP_OPTION_WORDS - 1)) ;;
  esac
  shift
done

sp_expect_args 2 "expected <env> \"<reason>\", got ${#SP_ARGS[@]} argument(s) (quote the reason)"
env=${SP_ARGS[0]} reason=${SP_ARGS[1]}

reason_trimmed=$(tr -s '[:space:]' ' ' <<<"$reason" | sed 's/^ //; s/ $//')
[[ -n "$reason_trimmed" ]] || sp_usage_error "the reason must not be empty: say why you roll back (it goes into git and the incident record)"
[[ ${#reason_trimmed} -le 500 ]] || sp_usage_error "the reason is ${#reason_trimmed} characters; keep it under 500 (details go into the incident record afterwards)"
if [[ "$reason_trimmed" =~ [[:cntrl:]] ]]; then
  sp_usage_error "the reason contains control characters"
fi
reason=$reason_trimmed
if [[ -n "$to_tag" ]]; then
  [[ "$to_tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || sp_usage_error "--to '$to_tag' is not a valid image tag"
fi
[[ "$incident_dir" =~ ^[A-Za-z0-9_][A-Za-z0-9_./-]*$ && "$incident_dir" != *..* ]] ||
  sp_usage_error "--incident-dir must be a relative path inside the repository, not '$incident_dir'"
timeout_arg=$timeout
for i in "${!extra_values[@]}"; do
  [[ -f "${extra_values[$i]}" ]] || sp_die "$SP_EX_NOINPUT" "--values ${extra_values[$i]} does not exist"
  extra_values[i]=$(cd "$(dirname "${extra_values[$i]}")" && pwd)/$(basename "${extra_values[$i]}")
done

# --- the environment and the repository -------------------------------------------------

sp_load_env "$env"
sp_override_cluster
if [[ -n "$release_override" ]]; then
  [[ "$release_override" =~ ^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$ ]] || sp_usage_error "'$release_override' is not a valid release name"
  SP_ENV_RELEASE=$release_override
fi
if ! $push && $sync && [[ "$SP_ENV_ARGOCD_ENABLED" == true ]]; then
  sp_usage_error "ArgoCD syncs '$env' from the remote: with --no-push it would never see the rollback; add --no-sync, or push"
fi
if [[ ${#extra_values[@]} -gt 0 && "$SP_ENV_ARGOCD_ENABLED" == true ]]; then
  sp_usage_error "--values applies only without ArgoCD; ArgoCD manages '$env' and applies exactly what git holds"
fi
timeout_seconds=$(sp_duration_seconds "${timeout_arg:-${SP_ENV_TIMEOUTS_ROLLOUT:-30m}}")
values_file=$SP_ENV_GITOPS_VALUES_FILE
tag_key=$SP_ENV_GITOPS_IMAGE_TAG_KEY
branch=${SP_ENV_GITOPS_BRANCH:-main}
chart_dir=${SP_ENV_GITOPS_CHART:-helm}

repo=${repo:-$SP_REPO_ROOT}
[[ -d "$repo" ]] || sp_die "$SP_EX_NOINPUT" "GitOps repository $repo does not exist"
repo=$(cd "$repo" && pwd)
top=$(git -C "$repo" rev-parse --show-toplevel 2>/dev/null) || sp_die "$SP_EX_DATAERR" "$repo is not a git repository"
[[ "$top" == "$repo" ]] || sp_die "$SP_EX_DATAERR" "$repo is inside the git repository $top; pass its top level with --repo"
[[ -f "$repo/$values_file" ]] || sp_die "$SP_EX_NOINPUT" "$repo/$values_file (gitops.values_file of environment '$env') is missing"

export GIT_TERMINAL_PROMPT=0
export GIT_SSH_COMMAND=${GIT_SSH_COMMAND:-ssh -o BatchMode=yes -o ConnectTimeout=15}
git_() { git -C "$repo" "$@"; }
gitops_py() { sp_python "$SP_LIB_DIR/gitops.py" "$@"; }

# One rollback at a time per repository.
git_dir=$(git_ rev-parse --absolute-git-dir)
if command -v flock >/dev/null; then
  exec 9>"$git_dir/sre-platform-rollback.lock"
  flock -n 9 || sp_die "$SP_EX_TEMPFAIL" "another rollback is running in $repo (lock $git_dir/sre-platform-rollback.lock)"
fi

current_branch=$(git_ symbolic-ref --quiet --short HEAD) ||
  sp_die "$SP_EX_DATAERR" "$repo has a detached HEAD; check out branch '$branch' (gitops.branch of '$env') first"
[[ "$current_branch" == "$branch" ]] ||
  sp_die "$SP_EX_DATAERR" "$repo is on branch '$current_branch', but environment '$env' deploys from '$branch'; check it out first"
git_ diff --cached --quiet ||
  sp_die "$SP_EX_DATAERR" "$repo has staged changes; commit or unstage them first (a rollback commit must contain only the rollback)"
[[ -z "$(git_ status --porcelain -- "$values_file")" ]] ||
  sp_die "$SP_EX_DATAERR" "$repo/$values_file has uncommitted changes; commit or discard them first"

if [[ -z "$(git_ config user.email || true)" ]]; then
  git_() {
    git -C "$repo" -c user.name="${GIT_AUTHOR_NAME:-sre-platform rollback}" \
      -c user.email="${GIT_AUTHOR_EMAIL:-rollback@sre-platform.invalid}" "$@"
  }
fi

# The remote to push to: the branch's upstream, else origin, else none (local repository).
remote=""
if upstream=$(git_ rev-parse --abbrev-ref --symbolic-full-name '@{u}' 2>/dev/null); then
  remote=${upstream%%/*}
elif git_ remote get-url origin >/dev/null 2>&1; then
  remote=origin
fi
$push || remote=""
remote_desc=""
[[ -n "$remote" ]] && remote_desc="$remote ($(sp_redact_url "$(git_ remote get-url "$remote")"))"

# --- preflight: everything reachable before anything is committed ------------------------

if [[ -n "$remote" ]]; then
  err=$(timeout 90 git -C "$repo" fetch --quiet "$remote" "$branch" 2>&1) ||
    sp_die "$SP_EX_UNAVAILABLE" "git remote $remote_desc is unreachable: ${err//$'\n'/ } (retry, or --no-push to commit locally)"
  behind=$(git_ rev-list --count "HEAD..$remote/$branch")
  ahead=$(git_ rev-list --count "$remote/$branch..HEAD")
  if ((behind > 0 && ahead > 0)); then
    sp_die "$SP_EX_DATAERR" "$repo branch $branch has diverged from $remote/$branch ($ahead local, $behind remote commits); reconcile it first"
  elif ((behind > 0)); then
    sp_log "fast-forwarding $branch by $behind commit(s) from $remote"
    git_ merge --quiet --ff-only "$remote/$branch"
  fi
fi

sync_desc="not performed (--no-sync)"
if $sync; then
  sp_kube_args_from_env
  SP_KUBECTL=$(sp_kubectl_bin)
  sp_require_cluster
  if [[ "$SP_ENV_ARGOCD_ENABLED" == true ]]; then
    sp_argocd_init
    sp_argocd_require
  else
    SP_HELM=$(sp_helm_bin)
  fi
fi

# --- what to roll back to ----------------------------------------------------------------

current=$(gitops_py get "$repo/$values_file" "$tag_key")
mode="" target="" reverted="" reverted_subject=""
if [[ -n "$to_tag" ]]; then
  target=$to_tag
  if [[ "$current" == "$to_tag" ]]; then
    mode=none
    sp_log "$values_file already has $tag_key = $to_tag; nothing to commit"
  else
    mode="set"
  fi
else
  change=$(gitops_py last-change "$repo" "$values_file" "$tag_key" --shell)
  CHANGE_COMMIT="" CHANGE_SUBJECT="" CHANGE_OLD="" CHANGE_ONLY_CHANGE="" CHANGE_ROLLBACK_ENV=""
  eval "$change"
  reverted=$CHANGE_COMMIT reverted_subject=$CHANGE_SUBJECT
  if [[ -n "$CHANGE_ROLLBACK_ENV" ]]; then
    mode=none target=$current
    sp_log "the last change of $tag_key (${CHANGE_COMMIT:0:12} \"$CHANGE_SUBJECT\") is already a rollback; not rolling back twice (to go further back: --to TAG)"
  elif [[ -z "$CHANGE_OLD" ]]; then
    sp_die "$SP_EX_DATAERR" "commit ${CHANGE_COMMIT:0:12} \"$CHANGE_SUBJECT\" introduced $tag_key in $values_file; there is no previous tag to return to (use --to TAG)"
  else
    target=$CHANGE_OLD
    if [[ "$CHANGE_ONLY_CHANGE" == true ]]; then mode="revert"; else mode="set"; fi
  fi
fi

plan="$env: $tag_key ${current} -> ${target}"
case "$mode" in
  revert) plan+=" (git revert ${reverted:0:12} \"$reverted_subject\")" ;;
  set) plan+=" (new commit writing $values_file${reverted:+; ${reverted:0:12} changed more than the tag})" ;;
  none) plan+=" (already in git)" ;;
esac
sp_log "plan: $plan"
if $dry_run; then
  echo "dry run: $plan; push: ${remote_desc:-none}; sync: $($sync && echo "yes (${SP_ENV_ARGOCD_APPLICATION:-helm upgrade})" || echo no)"
  exit 0
fi

# --- commit and push -----------------------------------------------------------------------

msg_file=$(mktemp)
trap 'rm -f "$msg_file"' EXIT
operator=${GITHUB_ACTOR:-$(git_ config user.name || echo "${USER:-unknown}")}

write_message() { # write_message SUBJECT: the commit message with the rollback trailers
  {
    echo "$1"
    echo
    echo "Reason: $reason"
    echo
    [[ -n "$reverted" && "$mode" == revert ]] && echo "This reverts commit $reverted." && echo
    echo "Rollback-Env: $env"
    echo "Rollback-From: $current"
    echo "Rollback-To: $target"
    echo "Rollback-Operator: $operator"
  } >"$msg_file"
}

push_commits() {
  [[ -n "$remote" ]] || return 0
  [[ "$(git_ rev-list --count "$remote/$branch..HEAD")" -gt 0 ]] || return 0
  local err attempt
  for attempt in 1 2; do
    if err=$(timeout 120 git -C "$repo" push --quiet "$remote" "HEAD:refs/heads/$branch" 2>&1); then
      sp_log "pushed to $remote_desc $branch"
      return 0
    fi
    if [[ "$err" == *rejected* || "$err" == *"fetch first"* || "$err" == *non-fast-forward* ]] && ((attempt == 1)); then
      sp_log "the remote moved on; merging $remote/$branch (no rebase, no force) and pushing again"
      git_ pull --quiet --no-rebase --no-edit "$remote" "$branch" ||
        sp_die "$SP_EX_FAIL" "could not merge $remote/$branch into the rollback; resolve in $repo and push by hand"
      continue
    fi
    if [[ "$err" == *"Could not resolve"* || "$err" == *"unable to access"* || "$err" == *"Connection"* || "$err" == *"timed out"* || -z "$err" ]]; then
      sp_die "$SP_EX_UNAVAILABLE" "git remote $remote_desc is unreachable; the commit is in $repo, push it later: git -C $repo push $remote HEAD:$branch (${err//$'\n'/ })"
    fi
    sp_die "$SP_EX_FAIL" "git push to $remote_desc failed: ${err//$'\n'/ }"
  done
}

rollback_commit=""
case "$mode" in
  revert)
    if git_ revert --no-commit "$reverted" >/dev/null 2>&1; then
      write_message "Revert \"$reverted_subject\""
      git_ commit --quiet -F "$msg_file"
    else
      git_ revert --abort >/dev/null 2>&1 || true
      sp_warn "git revert ${reverted:0:12} did not apply cleanly; writing $tag_key instead"
      mode="set"
    fi
    ;;
esac
if [[ "$mode" == set ]]; then
  gitops_py set "$repo/$values_file" "$tag_key" "$target" >/dev/null
  git_ add -- "$values_file"
  write_message "rollback($env): $tag_key $current -> $target"
  git_ commit --quiet -F "$msg_file" -- "$values_file"
fi
if [[ "$mode" == none ]]; then
  # The commit that put the rollback into git (this run's or an earlier one's).
  rollback_commit=$(gitops_py last-change "$repo" "$values_file" "$tag_key" --shell | sed -n 's/^CHANGE_COMMIT=//p')
else
  rollback_commit=$(git_ rev-parse HEAD)
  sp_log "committed ${rollback_commit:0:12}: $plan"
fi
[[ "$(gitops_py get "$repo/$values_file" "$tag_key")" == "$target" ]] ||
  sp_die "$SP_EX_SOFTWARE" "after the commit $values_file does not hold $tag_key = $target; please report this"
push_commits

# --- sync and wait -------------------------------------------------------------------------

result="not checked (--no-sync)"
rc=0
started=$(date +%s)
if $sync; then
  release=$SP_ENV_RELEASE
  if [[ "$SP_ENV_ARGOCD_ENABLED" == true ]]; then
    # ArgoCD applies what git holds; it must see the pushed commit (or, with --no-push, the
    # Application must point at this repository).
    sync_desc="ArgoCD sync of $SP_ARGOCD_APP through $(sp_argocd_describe)"
    sp_argocd_refresh || sp_die "$SP_EX_UNAVAILABLE" "ArgoCD could not refresh $SP_ARGOCD_APP"
    sp_argocd_sync || sp_die "$SP_EX_FAIL" "could not start a sync of $SP_ARGOCD_APP; the rollback is in git (${rollback_commit:0:12}), sync it by hand"
    sp_argocd_wait_synced "$(git_ rev-parse HEAD)" "$timeout_seconds" || rc=$?
  else
    # No ArgoCD: apply exactly what git holds (not the working tree) with helm.
    sync_desc="helm upgrade $release from git ${rollback_commit:0:12}"
    export_dir=$(mktemp -d)
    trap 'rm -f "$msg_file"; rm -rf "$export_dir"' EXIT
    SP_HELM=${SP_HELM:-$(sp_helm_bin)}
    git_ archive --format=tar HEAD -- "$chart_dir" "$values_file" | tar -x -C "$export_dir"
    helm_values=(-f "$export_dir/$values_file")
    for file in "${extra_values[@]}"; do helm_values+=(-f "$file"); done
    # The tag from git wins over any extra values file.
    helm_values+=(--set-string "$tag_key=$target")
    sp_run "$SP_HELM" "${SP_HELM_KUBE_ARGS[@]}" upgrade --install "$release" "$export_dir/$chart_dir" \
      --namespace "$SP_ENV_NAMESPACE" --create-namespace "${helm_values[@]}" >&2 ||
      sp_die "$SP_EX_FAIL" "helm upgrade of $release failed; the rollback is in git (${rollback_commit:0:12})"
  fi
  if [[ $rc -eq 0 ]]; then
    found=$(sp_workload_of_release "$release") || exit $?
    read -r kind workload <<<"$found"
    if [[ "$kind" == Rollout ]]; then
      SP_ROLLOUTS=$(sp_rollouts_bin)
      if $promote_full; then
        sleep "${SP_POLL_SECONDS:-5}" # let the controller observe the new spec first
        state=$(sp_rollout_status "$workload")
        if [[ "${state%% *}" != Healthy ]]; then
          sp_warn "--promote-full: skipping the remaining steps and analysis of the rollback"
          sp_run "$SP_ROLLOUTS" "${SP_KUBE_ARGS[@]}" --namespace "$SP_ENV_NAMESPACE" promote "$workload" --full >&2 || true
        fi
      fi
      sp_rollout_wait "$workload" healthy "$timeout_seconds" || rc=$?
    else
      sp_deployment_wait "$workload" "$timeout_seconds" || rc=$?
    fi
  fi
  elapsed=$(($(date +%s) - started))
  case $rc in
    0) result="Healthy after ${elapsed}s" ;;
    75) result="timed out after ${elapsed}s waiting for Healthy" ;;
    *) result="NOT healthy after ${elapsed}s (see: scripts/promote-canary.sh status $env ${workload:-$release} -n $SP_ENV_NAMESPACE)" ;;
  esac
  if [[ $rc -eq 0 ]]; then
    image=$(sp_kubectl -n "$SP_ENV_NAMESPACE" get "${kind,,}s/$workload" -o 'jsonpath={.spec.template.spec.containers[0].image}' 2>/dev/null || true)
    if [[ -n "$image" && "$image" != *":$target" && "$image" != *":$target@"* ]]; then
      rc=$SP_EX_FAIL
      result="Healthy, but the workload runs $image, not tag $target"
    fi
  fi
  sp_log "rollout: $result"
fi

# --- incident record -------------------------------------------------------------------------

incident_rel="$incident_dir/$(date -u +%Y-%m-%d)-$env.md"
# One record per rollback commit: a re-run that committed nothing adds no second record
# (it only writes one when an earlier run died before writing it).
existing=$(grep -rli --include="*.md" -F "rollback commit | $rollback_commit" "$repo/$incident_dir" 2>/dev/null | head -n 1 || true)
if [[ "$mode" == none && -n "$existing" ]]; then
  incident_rel=${existing#"$repo/"}
  sp_log "incident record $incident_rel already covers ${rollback_commit:0:12}; not writing another"
else
  incident_file="$repo/$incident_rel"
  mkdir -p "$(dirname "$incident_file")"
  md_escape() { printf '%s' "${1//|/\\|}"; }
  run_url=""
  if sp_in_github_actions; then
    run_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/${GITHUB_RUN_ID:-}"
  fi
  new_file=true
  [[ -s "$incident_file" ]] && new_file=false
  {
    $new_file && printf '# Incident: %s rollback(s) on %s\n\nWritten by scripts/rollback.sh; complete the post-mortem sections by hand.\n' "$env" "$(date -u +%Y-%m-%d)"
    printf '\n## %s  %s: %s -> %s\n\n' "$(date -u +%H:%M:%SZ)" "$env" "$current" "$target"
    printf '| field | value |\n|---|---|\n'
    printf '| reason | %s |\n' "$(md_escape "$reason")"
    printf '| environment | %s (namespace %s, release %s) |\n' "$env" "$SP_ENV_NAMESPACE" "$SP_ENV_RELEASE"
    printf "| image tag | \`%s\` -> \`%s\` |\n" "$current" "$target"
    printf '| rollback commit | %s |\n' "$rollback_commit"
    [[ -n "$reverted" ]] && printf '| reverted commit | %s "%s" |\n' "$reverted" "$(md_escape "$reverted_subject")"
    printf '| operator | %s |\n' "$(md_escape "$operator")"
    [[ -n "$run_url" ]] && printf '| workflow run | %s |\n' "$run_url"
    printf '| sync | %s |\n' "$sync_desc"
    printf '| result | %s |\n' "$result"
    printf '\n### Post-mortem\n\n- [ ] Timeline (detection, decision, rollback, recovery)\n- [ ] Impact (users, error budget spent)\n- [ ] Root cause of %s\n- [ ] Why the canary analysis did not stop it\n- [ ] Follow-up actions, each with an owner\n' "\`$current\`"
  } >>"$incident_file"
  git_ add -- "$incident_rel"
  printf 'incident(%s): rollback record %s\n\nRollback-Commit: %s\n' "$env" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$rollback_commit" >"$msg_file"
  git_ commit --quiet -F "$msg_file" -- "$incident_rel"
  sp_log "committed the incident record $incident_rel"
  push_commits
fi

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  {
    echo "incident_path=$incident_rel"
    echo "rollback_commit=$rollback_commit"
    echo "from_tag=$current"
    echo "to_tag=$target"
    echo "result=$result"
  } >>"$GITHUB_OUTPUT"
fi
echo "rollback: $plan; $result"
echo "incident record: $repo/$incident_rel"
exit "$rc"
