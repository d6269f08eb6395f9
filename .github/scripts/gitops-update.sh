#!/usr/bin/env bash
# The GitOps update of the CI and CD workflows: write an image tag into image.tag of
# helm/values-<env>.yaml (the environment file says which file and key), commit, push.
# ArgoCD then sees the commit and syncs. Each attempt starts from the remote branch as it
# is now, so a push that lost a race is simply redone: no rebase, no merge, no force.
set -euo pipefail

# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SP_PROG=gitops-update
# shellcheck source=scripts/lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"

usage() {
  cat <<USAGE
Usage: .github/scripts/gitops-update.sh <env> <tag> [options]

Commit image.tag = <tag> for environment <env> ($(sp_known_envs 2>/dev/null || echo dev, staging, production, lab)) and push it.

Options:
  --strategy S      also write rollouts.strategy = S (canary or blueGreen)
  --source SHA      the application commit the image was built from; when the remote
                    branch already has newer application commits, do nothing (their own
                    pipeline deploys them; an older image must not overwrite a newer one)
  --remote NAME     git remote to push to (default: origin)
  --attempts N      push attempts when the branch moves under us (default: 5)
  --no-push         commit on a detached HEAD and stop (for trying it out)
  -h, --help        this help

Cross-check: when GITOPS_VALUES_FILE and/or GITOPS_KEY are set (the workflows set them so
the file and key are visible in the workflow itself), they must equal the environment
file's gitops.values_file and gitops.image_tag_key, else exit 65.

Authentication: with GITOPS_TOKEN set, git gets it as an HTTP Authorization header through
GIT_CONFIG_* variables (never on a command line, never written to .git/config).
Outputs (GitHub Actions): commit=<sha pushed or empty>, changed=true|false.

Exit codes: 0 pushed or nothing to do, 1 the push kept failing, 64 usage, 65 unknown
environment or bad tag, 66 values file missing, 69 the remote is unreachable.
USAGE
}

env="" tag="" strategy="" source_sha="" remote=origin attempts=5 push=true
positional=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --strategy) sp_need_value "$1" $#; strategy=$2; shift ;;
    --source) sp_need_value "$1" $#; source_sha=$2; shift ;;
    --remote) sp_need_value "$1" $#; remote=$2; shift ;;
    --attempts) sp_need_value "$1" $#; attempts=$2; shift ;;
    --no-push) push=false ;;
    -*) sp_usage_error "unknown option '$1'" ;;
    *) positional+=("$1") ;;
  esac
  shift
done
[[ ${#positional[@]} -eq 2 ]] || { usage >&2; exit "$SP_EX_USAGE"; }
env=${positional[0]} tag=${positional[1]}
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || sp_usage_error "'$tag' is not a valid image tag"
[[ -z "$strategy" || "$strategy" == canary || "$strategy" == blueGreen ]] || sp_usage_error "--strategy must be canary or blueGreen"
[[ -z "$source_sha" || "$source_sha" =~ ^[0-9a-f]{40}$ ]] || sp_usage_error "--source must be a full 40-hex commit SHA"
[[ "$attempts" =~ ^[1-9][0-9]?$ ]] || sp_usage_error "--attempts must be a number from 1 to 99"

sp_load_env "$env"
values_file=$SP_ENV_GITOPS_VALUES_FILE
if [[ -n "${GITOPS_VALUES_FILE:-}" && "$GITOPS_VALUES_FILE" != "$values_file" ]]; then
  sp_die "$SP_EX_DATAERR" "GITOPS_VALUES_FILE=$GITOPS_VALUES_FILE, but environments/$env.yaml says gitops.values_file: $values_file"
fi
if [[ -n "${GITOPS_KEY:-}" && "$GITOPS_KEY" != "$SP_ENV_GITOPS_IMAGE_TAG_KEY" ]]; then
  sp_die "$SP_EX_DATAERR" "GITOPS_KEY=$GITOPS_KEY, but environments/$env.yaml says gitops.image_tag_key: $SP_ENV_GITOPS_IMAGE_TAG_KEY"
fi
branch=${SP_ENV_GITOPS_BRANCH:-main}
cd "$SP_REPO_ROOT"
gitops_py() { sp_python "$SP_LIB_DIR/gitops.py" "$@"; }

export GIT_TERMINAL_PROMPT=0
if [[ -n "${GITOPS_TOKEN:-}" ]]; then
  # Same mechanism as actions/checkout, but only in this process's environment.
  basic=$(printf 'x-access-token:%s' "$GITOPS_TOKEN" | base64 -w0)
  echo "::add-mask::$basic"
  export GIT_CONFIG_COUNT=1
  export GIT_CONFIG_KEY_0="http.https://github.com/.extraheader"
  export GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic"
fi
git_() {
  git -c user.name="${GIT_AUTHOR_NAME:-github-actions[bot]}" \
    -c user.email="${GIT_AUTHOR_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}" "$@"
}

output() { [[ -z "${GITHUB_OUTPUT:-}" ]] || echo "$1" >>"$GITHUB_OUTPUT"; }

for ((attempt = 1; attempt <= attempts; attempt++)); do
  if $push; then
    err=$(timeout 90 git fetch --quiet "$remote" "$branch" 2>&1) ||
      sp_die "$SP_EX_UNAVAILABLE" "git remote $remote ($(sp_redact_url "$(git remote get-url "$remote")")) is unreachable: ${err//$'\n'/ }"
    git_ switch --quiet --detach "$remote/$branch"
  fi
  [[ -f "$values_file" ]] || sp_die "$SP_EX_NOINPUT" "$values_file (gitops.values_file of $env) is missing on $branch"

  if [[ -n "$source_sha" ]] && git cat-file -e "$source_sha^{commit}" 2>/dev/null; then
    # Application commits after the source: anything but GitOps values and incident records.
    newer=$(git log --format=%h "$source_sha..HEAD" -- . ':(exclude)helm/values-*.yaml' ':(exclude)incidents' | head -n 5 | paste -sd' ' -)
    if [[ -n "$newer" ]]; then
      sp_log "$branch already has newer application commits ($newer); their pipeline deploys them, not writing $tag"
      output "changed=false"
      output "commit="
      exit 0
    fi
  fi

  result=$(gitops_py set "$values_file" "$SP_ENV_GITOPS_IMAGE_TAG_KEY" "$tag")
  changed_keys="$SP_ENV_GITOPS_IMAGE_TAG_KEY"
  if [[ -n "$strategy" ]]; then
    if [[ "$(gitops_py get "$values_file" rollouts.strategy)" != "$strategy" ]]; then
      gitops_py set "$values_file" rollouts.strategy "$strategy" >/dev/null
      changed_keys+=" rollouts.strategy"
      result="changed"
    fi
  fi
  if [[ "$result" == unchanged* ]]; then
    sp_log "$values_file already has $SP_ENV_GITOPS_IMAGE_TAG_KEY = $tag${strategy:+ and rollouts.strategy = $strategy}; nothing to commit"
    output "changed=false"
    output "commit=$(git rev-parse HEAD)"
    exit 0
  fi

  msg="deploy($env): $SP_ENV_GITOPS_IMAGE_TAG_KEY -> $tag${strategy:+ ($strategy)}

Written by .github/scripts/gitops-update.sh (${GITHUB_WORKFLOW:-by hand}${GITHUB_RUN_ID:+, run $GITHUB_RUN_ID}).

Deploy-Env: $env
Deploy-Tag: $tag
Deploy-Keys: $changed_keys${source_sha:+
Source-Commit: $source_sha}"
  git_ commit --quiet -m "$msg" -- "$values_file"
  commit=$(git rev-parse HEAD)
  if ! $push; then
    sp_log "committed ${commit:0:12} (not pushed: --no-push)"
    output "changed=true"
    output "commit=$commit"
    exit 0
  fi
  if err=$(timeout 120 git push --quiet "$remote" "HEAD:refs/heads/$branch" 2>&1); then
    sp_log "pushed ${commit:0:12} to $remote/$branch: $env $SP_ENV_GITOPS_IMAGE_TAG_KEY -> $tag"
    output "changed=true"
    output "commit=$commit"
    if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
      echo "GitOps update: \`$values_file\` $SP_ENV_GITOPS_IMAGE_TAG_KEY = \`$tag\` in ${commit:0:12}" >>"$GITHUB_STEP_SUMMARY"
    fi
    exit 0
  fi
  sp_warn "push attempt $attempt/$attempts failed: ${err//$'\n'/ }"
  sleep $((attempt * 3))
done
sp_die "$SP_EX_FAIL" "could not push the GitOps update of $env after $attempts attempts"
