#!/usr/bin/env bash
# Build the pinned Go tools into the cache, each from its wrapper module in tools/<tool>/.
#
# Why wrapper modules: k8s.io/kubernetes, Argo Rollouts and etcd carry `replace`
# directives, so `go install <pkg>@<version>` refuses them. A small module per tool with
# `require` + the upstream replace block + `tool` lines (Go >= 1.24) builds them all the
# same way and pins every dependency in a committed go.sum.
#
# Cache layout (docs/interfaces.md): $SRE_PLATFORM_CACHE/tools/<tool>/<version>/<binary>,
# CRDs in <version>/crds/, the build time in <version>/build-seconds, and the stamp
# <version>/.complete, written only after a successful build. A tool whose stamp and
# binaries are present is skipped, so a warm run costs well under a second.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
versions_file="$here/versions.env"
cache=${SRE_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sre-platform}
tools_cache="$cache/tools"

# Build order: what other work waits for first (helm, actionlint), the lab after.
all_tools=(helm actionlint rollouts-evaluate kubernetes etcd kwok argo-rollouts kube-state-metrics kube-score argo-cd kind prometheus-operator)
# Tools whose module also provides manifests (copy_manifests); --manifests-only takes just those.
manifest_tools=(kwok argo-rollouts argo-cd prometheus-operator)
manifests_only=false

usage() {
  cat <<USAGE
Usage: tools/build.sh [--list] [--force] [--dry-run] [--cold] [--manifests-only] [TOOL...]

Build the pinned tools of tools/versions.env that are missing from
  $tools_cache/<tool>/<version>/
Without TOOL, every tool: ${all_tools[*]}

  --list      print each tool, its pinned version, its state and recorded build time
  --force     rebuild the named tools even when they are built
  --dry-run   print what would be built and exit
  --cold      measure a cold build: build the tools with empty, temporary Go module and
              build caches and tool cache (downloads included), record the times in
              $tools_cache/cold-build.txt (read by bench/bench-tools), then delete
              the temporary caches; the real cache is not touched otherwise
  --manifests-only
              for the tools that ship manifests (${manifest_tools[*]}): only their
              crds/ (and manifests/, stages/), not their binaries: what the static tier
              needs, in seconds instead of minutes. Other tools are built whole.
  -h, --help  this text

Each build logs to $tools_cache/<tool>/build-<version>.log.
Environment: SRE_PLATFORM_CACHE (cache root), GOMODCACHE/GOCACHE (Go's own caches,
shared by every tool; Go's defaults are outside the repository).
Exit codes: 0 ok, 1 a build failed, 64 bad arguments, 66 tools/versions.env missing,
69 go is not installed.
USAGE
}

die() { # die <code> <message>
  echo "tools: $2" >&2
  exit "$1"
}

wrapper_of() { # wrapper_of <tool> -> the tools/ module it is built from
  case "$1" in
    # Argo Rollouts' own condition evaluation (tools/argo-rollouts/rollouts-evaluate): same module and
    # pin as the controller, built alone because the static tier needs only this.
    rollouts-evaluate) echo argo-rollouts ;;
    *) echo "$1" ;;
  esac
}

pin() { # pin <tool> -> its version from versions.env (HELM_VERSION for helm, ...)
  local key
  key="$(tr '[:lower:]-' '[:upper:]_' <<<"$(wrapper_of "$1")")_VERSION"
  local value
  value=$(sed -n "s/^${key}=//p" "$versions_file" | tail -n1)
  [[ -n "$value" ]] || die 66 "$versions_file has no $key pin for tool '$1'"
  printf '%s\n' "$value"
}

# ---- recipes ---------------------------------------------------------------------------
# binaries <tool>: what a complete build holds. upstream <tool>: the module the pin
# refers to (its version in the wrapper's go.mod must equal the pin). ldflags <tool> <v>.

binaries() {
  case "$1" in
    helm) echo helm ;;
    actionlint) echo actionlint ;;
    kubernetes) echo kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy ;;
    etcd) echo etcd etcdctl ;;
    kwok) echo kwok kwokctl ;;
    argo-rollouts) echo rollouts-controller kubectl-argo-rollouts ;;
    rollouts-evaluate) echo rollouts-evaluate ;;
    kube-state-metrics) echo kube-state-metrics ;;
    kube-score) echo kube-score ;;
    kind) echo kind ;;
    # One multiplexed binary; the other names are symlinks to it (it dispatches on argv[0]).
    argo-cd) echo argocd argocd-application-controller argocd-repo-server argocd-applicationset-controller ;;
    # CRDs only (the static tier validates the chart's ServiceMonitor against them).
    prometheus-operator) ;;
  esac
}

upstream() {
  case "$1" in
    helm) echo helm.sh/helm/v3 ;;
    actionlint) echo github.com/rhysd/actionlint ;;
    kubernetes) echo k8s.io/kubernetes ;;
    etcd) echo go.etcd.io/etcd/server/v3 ;;
    kwok) echo sigs.k8s.io/kwok ;;
    argo-rollouts | rollouts-evaluate) echo github.com/argoproj/argo-rollouts ;;
    kube-state-metrics) echo k8s.io/kube-state-metrics/v2 ;;
    kube-score) echo github.com/zegl/kube-score ;;
    kind) echo sigs.k8s.io/kind ;;
    argo-cd) echo github.com/argoproj/argo-cd/v3 ;;
    prometheus-operator) echo github.com/prometheus-operator/prometheus-operator ;;
  esac
}

ldflags() { # ldflags <tool> <version>
  local tool=$1 v=$2 date
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local flags="-s -w"
  case "$tool" in
    helm)
      flags+=" -X helm.sh/helm/v3/internal/version.version=$v"
      flags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
      # The Kubernetes version `helm template` assumes (chart kubeVersion checks,
      # .Capabilities): upstream derives it from client-go v0.X.Y -> 1.X; without it, 1.20.
      local client_go minor
      client_go=$(cd "$here/helm" && go list -mod=readonly -m -f '{{.Version}}' k8s.io/client-go)
      minor=$(cut -d. -f2 <<<"$client_go")
      local pkg
      for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
        flags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
      done
      ;;
    actionlint)
      flags+=" -X github.com/rhysd/actionlint.version=$v"
      ;;
    kubernetes)
      # What `kubectl version` and /version report; client-go's copy feeds the user agent.
      local minor=${v#v1.}
      minor=${minor%%.*}
      local pkg
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
      done
      ;;
    etcd)
      flags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=$v"
      ;;
    kwok)
      flags+=" -X sigs.k8s.io/kwok/pkg/consts.Version=$v"
      flags+=" -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$(pin kubernetes)"
      ;;
    argo-rollouts)
      local pkg=github.com/argoproj/argo-rollouts/utils/version
      # Without a commit hash the version reads "v1.10.1+unknown", as upstream's own
      # builds outside git do; the module proxy does not tell the commit.
      flags+=" -X $pkg.version=${v#v} -X $pkg.buildDate=$date -X $pkg.gitTreeState=clean"
      ;;
    kube-state-metrics)
      local pkg=github.com/prometheus/common/version
      flags+=" -X $pkg.Version=${v#v} -X $pkg.Branch=$v -X $pkg.BuildDate=$date -X $pkg.BuildUser=sre-platform"
      ;;
    kube-score)
      flags+=" -X main.version=${v#v} -X main.date=$date"
      ;;
    argo-cd)
      # Upstream's Makefile stamps these. Without a commit hash `argocd version` reads
      # "<version>+unknown", as upstream's own builds outside git do (the proxy does not
      # tell the commit); kubectlVersion is client-go's, as the Makefile derives it.
      local pkg=github.com/argoproj/argo-cd/v3/common client_go
      client_go=$(cd "$here/argo-cd" && go list -mod=readonly -m -f '{{.Version}}' k8s.io/client-go)
      flags+=" -X $pkg.version=${v#v} -X $pkg.buildDate=$date -X $pkg.gitTreeState=clean"
      flags+=" -X $pkg.kubectlVersion=$client_go"
      ;;
  esac
  printf '%s\n' "$flags"
}

module_dir() { # module_dir <tool> <version> -> the pinned upstream module's source (downloads it)
  # `go mod download` (not `go list -m`, whose .Dir is empty until something downloaded
  # the source): the wrapper's pinned version, or the bare module checked against
  # sum.golang.org for a tool without a wrapper.
  if [[ -f "$here/$1/go.mod" ]]; then
    (cd "$here/$1" && go mod download -json "$(upstream "$1")")
  else
    (cd / && go mod download -json "$(upstream "$1")@$2")
  fi | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

copy_manifests() { # copy_manifests <tool> <version> <out>: CRDs (and more) from the pinned module
  local tool=$1 src out=$3
  src=$(module_dir "$tool" "$2")
  [[ -n "$src" && -d "$src" ]] || { echo "could not download $(upstream "$tool")@$2" >&2; return 1; }
  case "$tool" in
    argo-rollouts | argo-cd)
      mkdir -p "$out/crds" "$out/manifests"
      cp "$src"/manifests/crds/*-crd.yaml "$out/crds/"
      cp "$src/manifests/install.yaml" "$out/manifests/install.yaml"
      if [[ "$tool" == argo-rollouts ]]; then
        cp "$src/manifests/dashboard-install.yaml" "$out/manifests/dashboard-install.yaml"
      fi
      ;;
    kwok)
      # The Stage CRD and upstream's default stages: the lab applies them as objects, so
      # a test can add its own stages (e.g. a container restart) at run time.
      mkdir -p "$out/crds" "$out/stages"
      cp "$src/kustomize/crd/bases/kwok.x-k8s.io_stages.yaml" "$out/crds/"
      cp "$src/kustomize/stage/node/fast/node-initialize.yaml" \
        "$src/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
        "$src"/kustomize/stage/pod/fast/pod-{ready,complete,delete}.yaml "$out/stages/"
      ;;
    prometheus-operator)
      mkdir -p "$out/crds"
      cp "$src/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$out/crds/"
      ;;
  esac
  chmod -R u+w "$out"
}

build_tool() { # build_tool <tool> <version> <out>: runs with output to the tool's log
  local tool=$1 v=$2 out=$3
  local wrapper
  wrapper="$here/$(wrapper_of "$tool")"
  if [[ -z "$(binaries "$tool")" ]]; then # nothing to compile: its manifests are the tool
    copy_manifests "$tool" "$v" "$out"
    return
  fi
  [[ -f "$wrapper/go.mod" ]] || { echo "$wrapper/go.mod is missing" >&2; return 1; }
  local have
  have=$(cd "$wrapper" && go list -mod=readonly -m -f '{{.Version}}' "$(upstream "$tool")")
  if [[ "$have" != "$v" ]]; then
    echo "tools/$tool/go.mod requires $(upstream "$tool") $have but versions.env pins $v;" \
      "update the wrapper module (see tools/README.md)" >&2
    return 1
  fi
  # `tool` = every tool line of the wrapper; `.` = the wrapper's own main (etcd).
  local targets=(tool)
  compgen -G "$wrapper/*.go" >/dev/null && targets+=(.)
  [[ "$tool" == rollouts-evaluate ]] && targets=(./rollouts-evaluate)
  (
    cd "$wrapper"
    GOBIN="$out" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
      go install -v -mod=readonly -trimpath -ldflags "$(ldflags "$tool" "$v")" "${targets[@]}"
  )
  case "$tool" in argo-rollouts | kwok | argo-cd) copy_manifests "$tool" "$v" "$out" ;; esac
  if [[ "$tool" == argo-cd ]]; then
    # go names the binary after its package directory (`cmd`); upstream's image installs
    # it as argocd and links the component names to it.
    mv "$out/cmd" "$out/argocd"
    local name
    for name in $(binaries "$tool"); do
      [[ "$name" == argocd ]] || ln -sf argocd "$out/$name"
    done
  fi
  local b
  for b in $(binaries "$tool"); do
    [[ -x "$out/$b" ]] || { echo "the build did not produce $b" >&2; return 1; }
  done
}

only_manifests() { # only_manifests <tool>: this run builds just the tool's manifests
  $manifests_only && [[ " ${manifest_tools[*]} " == *" $1 "* ]]
}

is_built() { # is_built <tool> <version>
  local dir="$tools_cache/$1/$2" b
  if only_manifests "$1"; then
    [[ -f "$dir/.complete" || -f "$dir/.manifests-complete" ]] && [[ -d "$dir/crds" ]]
    return
  fi
  [[ -f "$dir/.complete" ]] || return 1
  # A manifest added to copy_manifests since the tool was built (the Rollouts dashboard).
  [[ "$1" != argo-rollouts || -f "$dir/manifests/dashboard-install.yaml" ]] || return 1
  for b in $(binaries "$1"); do
    [[ -x "$dir/$b" ]] || return 1
  done
}

measure_cold() { # measure_cold <tool...>: a cold build in throw-away caches, times recorded
  local scratch
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/sre-platform-cold.XXXXXX")
  # Go marks module cache files read-only; make them removable before deleting.
  # shellcheck disable=SC2064 # expand now: $scratch is local, the trap runs at exit
  trap "chmod -R u+w '$scratch' 2>/dev/null; rm -rf '$scratch'" EXIT
  echo "tools: cold build of $* in $scratch (empty GOMODCACHE, GOCACHE and tool cache)"
  local load_start
  load_start=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "tools: load average at start: $load_start on $(nproc) core(s)"
  local start status=0
  start=$(date +%s)
  SRE_PLATFORM_CACHE="$scratch/cache" GOMODCACHE="$scratch/gomod" GOCACHE="$scratch/gocache" \
    "$here/build.sh" "$@" || status=$?
  local total=$(($(date +%s) - start))
  mkdir -p "$tools_cache"
  {
    echo "# tools/build.sh --cold on $(date -u +%Y-%m-%dT%H:%M:%SZ): $(nproc) core(s),"
    echo "# load average at the start $load_start, at the end $(cut -d' ' -f1-3 /proc/loadavg);" \
      "seconds per tool, in build order"
    for tool in "$@"; do
      local v
      v=$(pin "$tool")
      echo "$tool $v $(cat "$scratch/cache/tools/$tool/$v/build-seconds" 2>/dev/null || echo failed)"
    done
    echo "total - $total"
  } >"$tools_cache/cold-build.txt"
  cat "$tools_cache/cold-build.txt"
  return "$status"
}

# ---- main ------------------------------------------------------------------------------
# Everything runs inside main(): bash reads a function whole, so editing this file while a
# long build runs cannot derail the running one.
main() {
  list=false force=false dry_run=false cold=false
  wanted=()
  for arg in "$@"; do
    case "$arg" in
      -h|--help) usage; exit 0 ;;
      --list) list=true ;;
      --force) force=true ;;
      --dry-run) dry_run=true ;;
      --cold) cold=true ;;
      --manifests-only) manifests_only=true ;;
      -*) echo "tools: unknown option '$arg'" >&2; usage >&2; exit 64 ;;
      *)
        [[ " ${all_tools[*]} " == *" $arg "* ]] || die 64 "unknown tool '$arg'; known: ${all_tools[*]}"
        wanted+=("$arg")
        ;;
    esac
  done
  [[ ${#wanted[@]} -gt 0 ]] || wanted=("${all_tools[@]}")

  [[ -f "$versions_file" ]] || die 66 "$versions_file is missing"

  if $cold; then
    measure_cold "${wanted[@]}"
    return
  fi

  if $list; then
    printf '%-20s %-10s %-8s %s\n' TOOL VERSION STATE BUILD-SECONDS
    for tool in "${wanted[@]}"; do
      v=$(pin "$tool")
      state=missing secs=-
      if is_built "$tool" "$v"; then
        state=built
        secs=$(cat "$tools_cache/$tool/$v/build-seconds" 2>/dev/null || echo -)
      elif [[ -f "$tools_cache/$tool/$v/.manifests-complete" ]]; then
        state=manifests # --manifests-only: CRDs and manifests, no binaries
      fi
      printf '%-20s %-10s %-8s %s\n' "$tool" "$v" "$state" "$secs"
    done
    exit 0
  fi

  todo=()
  for tool in "${wanted[@]}"; do
    v=$(pin "$tool")
    if ! $force && is_built "$tool" "$v"; then
      continue
    fi
    todo+=("$tool")
  done
  if [[ ${#todo[@]} -eq 0 ]]; then
    echo "tools: all built in $tools_cache (${wanted[*]})"
    exit 0
  fi
  command -v go >/dev/null || die 69 "go is not installed (need Go >= 1.26; see tools/README.md)"
  if $dry_run; then
    echo "tools: would build: ${todo[*]}"
    exit 0
  fi

  echo "tools: building ${#todo[@]} tool(s) into $tools_cache on $(nproc) core(s): ${todo[*]}"
  failed=()
  n=0
  total_start=$(date +%s)
  for tool in "${todo[@]}"; do
    n=$((n + 1))
    v=$(pin "$tool")
    mkdir -p "$tools_cache/$tool"
    log="$tools_cache/$tool/build-$v.log"
    # One builder per tool at a time (two checkouts may share the cache).
    exec {lock}>"$tools_cache/$tool/.lock"
    flock "$lock"
    if ! $force && is_built "$tool" "$v"; then
      echo "[$n/${#todo[@]}] $tool $v: built meanwhile by another run"
      exec {lock}>&-
      continue
    fi
    tmp="$tools_cache/$tool/.build-$v.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    what=$(binaries "$tool")
    only_manifests "$tool" && what=""
    echo "[$n/${#todo[@]}] $tool $v: building ${what:-its manifests} (log: $log)"
    start=$(date +%s)
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    if only_manifests "$tool"; then
      copy_manifests "$tool" "$v" "$tmp" >"$log" 2>&1 &
    else
      build_tool "$tool" "$v" "$tmp" >"$log" 2>&1 &
    fi
    pid=$!
    # A heartbeat: go install -v prints one line per compiled package.
    while kill -0 "$pid" 2>/dev/null; do
      for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
      done
      if kill -0 "$pid" 2>/dev/null; then
        echo "      $tool: $(($(date +%s) - start))s, $(grep -vc '^go: ' "$log" || true) packages compiled"
      fi
    done
    if wait "$pid"; then
      secs=$(($(date +%s) - start))
      echo "$secs" >"$tmp/build-seconds"
      {
        echo "tool=$tool"
        echo "version=$v"
        echo "binaries=$(binaries "$tool")"
        echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "go=$(go env GOVERSION)"
        echo "cores=$(nproc)"
        echo "loadavg-at-start=$load"
      } >"$tmp/$(only_manifests "$tool" && echo .manifests-complete || echo .complete)"
      rm -rf "${tools_cache:?}/$tool/$v"
      mv "$tmp" "$tools_cache/$tool/$v"
      echo "[$n/${#todo[@]}] $tool $v: built in ${secs}s"
    else
      rm -rf "$tmp"
      echo "[$n/${#todo[@]}] $tool $v: FAILED after $(($(date +%s) - start))s; last lines of $log:" >&2
      tail -n 20 "$log" | sed 's/^/      /' >&2
      failed+=("$tool")
    fi
    exec {lock}>&-
  done
  echo "tools: done in $(($(date +%s) - total_start))s"
  if [[ ${#failed[@]} -gt 0 ]]; then
    echo "tools: failed: ${failed[*]} (logs in $tools_cache/<tool>/build-<version>.log)" >&2
    exit 1
  fi
}

main "$@"
