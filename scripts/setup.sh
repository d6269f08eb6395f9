#!/usr/bin/env bash
# Install everything this project needs on a fresh Debian 12 machine. Idempotent: each
# step checks what is there and does only what is missing.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/setup.sh [--python-only] [--tools]

  (no option)     Debian packages (the lab's and its real node's) and the Python
                  environment (.venv, exactly uv.lock). The pinned Go tools are built by the
                  make targets that need them, when they first run (make static: helm,
                  actionlint, the condition evaluator; the lab: the Kubernetes components...),
                  so the first results come minutes after a fresh clone, not after every build
  --python-only   only create or refresh .venv: the versions of uv.lock, extra packages kept
  --tools         also build every pinned Go tool now (what `make tools` does)

Exit codes: 0 ok, 64 bad arguments, 69 a package or tool could not be installed.
USAGE
}

python_only=false
with_tools=false
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --python-only) python_only=true ;;
    --tools) with_tools=true ;;
    --no-tools) with_tools=false ;; # the default; kept for older invocations
    *) echo "setup: unknown option '$arg'" >&2; usage >&2; exit 64 ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
cache=${SRE_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sre-platform}

# Debian packages the tests and the lab start as real services, and the linters that come
# from Debian. The list is the single source: packages.txt would be one more file to drift.
debian_packages=(
  git make gcc curl ca-certificates
  postgresql redis-server prometheus
  shellcheck wrk iproute2 psmisc procps lsof
)

install_debian() {
  local missing=()
  for pkg in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup: Debian packages present"
    return
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get update -qq || ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "setup: apt-get could not install: ${missing[*]}" >&2
    exit 69
  fi
}

# The lab's real node and its image builds (containerd, runc, CNI plugins, buildah,
# debootstrap, ...): their list lives with the node, in scripts/node/install-packages.sh.
install_node_packages() {
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  if ! "${sudo[@]}" "$here/scripts/node/install-packages.sh"; then
    echo "setup: the real node's Debian packages could not be installed" >&2
    exit 69
  fi
  echo "setup: the real node's Debian packages present"
}

# uv installs exactly the versions of uv.lock (dev tools included). uv itself is pinned in
# tools/versions.env and kept in the cache, outside the clone and outside .venv (a sync
# removes whatever the lock does not list).
ensure_uv() {
  local version
  version=$(sed -n 's/^UV_VERSION=//p' "$here/tools/versions.env")
  [[ -n "$version" ]] || { echo "setup: tools/versions.env has no UV_VERSION" >&2; exit 66; }
  local home="$cache/uv/$version"
  uv="$home/bin/uv"
  [[ -x "$uv" ]] && return
  echo "setup: installing uv $version into $home"
  rm -rf "$home"
  if ! python3 -m venv "$home" || ! "$home/bin/python" -m pip install -q "uv==$version"; then
    rm -rf "$home"
    echo "setup: could not install uv $version from PyPI" >&2
    exit 69
  fi
}

install_python() {
  ensure_uv
  # --locked: a pyproject.toml changed without `uv lock` is an error, not a silent re-resolve.
  # Never download a Python: the machine's python3 (>= 3.11) is the interpreter. A full
  # setup makes .venv exactly the lock; --python-only (what `make static` runs first) only
  # adds and updates, so it never removes a package someone is using in this venv.
  local exact=()
  $python_only && exact=(--inexact)
  if ! UV_PROJECT_ENVIRONMENT="$here/.venv" UV_PYTHON_DOWNLOADS=never \
    "$uv" sync --locked "${exact[@]}" --extra dev --python python3 --quiet; then
    echo "setup: uv could not install the locked Python packages into .venv" \
      "(after editing pyproject.toml, run: $uv lock)" >&2
    exit 69
  fi
  echo "setup: .venv has the versions of uv.lock"
}

if $python_only; then
  install_python
  exit 0
fi
install_debian
install_node_packages
install_python
if $with_tools; then
  if [[ -x "$here/tools/build.sh" ]]; then
    "$here/tools/build.sh"
  else
    echo "setup: tools/build.sh does not exist yet; skipping the Go tools"
  fi
fi
echo "setup: done"
