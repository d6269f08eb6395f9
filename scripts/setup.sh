#!/usr/bin/env bash
# Install everything this project needs on a fresh Debian 12 machine. Idempotent: each
# step checks what is there and does only what is missing.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/setup.sh [--python-only] [--no-tools]

  (no option)     Debian packages (the lab's, its real node's, Docker for kind), the
                  Python environment (.venv) and the built Go tools
  --python-only   only create or refresh .venv
  --no-tools      everything but the Go tools

Exit codes: 0 ok, 64 bad arguments, 69 a package or tool could not be installed.
USAGE
}

python_only=false
with_tools=true
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --python-only) python_only=true ;;
    --no-tools) with_tools=false ;;
    *) echo "setup: unknown option '$arg'" >&2; usage >&2; exit 64 ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

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

# kind (make kind-up) drives Docker: Debian's docker.io (20.10), unless a Docker engine is
# installed already (Docker CE, a CI runner's). Installed without starting it, and kept from
# starting at boot: fixtures.kind starts its own dockerd, confined so the lab keeps working
# and the host is left as found (docs/kind.md); a stock dockerd would set the iptables
# FORWARD policy to DROP.
install_docker() {
  if command -v dockerd >/dev/null 2>&1; then
    echo "setup: Docker present ($(command -v dockerd))"
    return
  fi
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  local guard=/usr/sbin/policy-rc.d added_guard=false
  if [[ ! -e $guard ]]; then # Debian's way to keep a package's service from starting
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$guard" >/dev/null
    "${sudo[@]}" chmod 755 "$guard"
    added_guard=true
  fi
  echo "setup: installing Debian docker.io (not started; fixtures.kind runs its own dockerd)"
  export DEBIAN_FRONTEND=noninteractive
  local status=0
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker.io \
    || status=$?
  if $added_guard; then "${sudo[@]}" rm -f "$guard"; fi
  if [[ $status -ne 0 ]]; then
    echo "setup: apt-get could not install docker.io" >&2
    exit 69
  fi
  if [[ -d /run/systemd/system ]]; then
    "${sudo[@]}" systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
  fi
}

install_python() {
  local venv="$here/.venv"
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv"
    python3 -m venv "$venv"
  fi
  # Re-install only when pyproject.toml changed since the last successful install.
  local stamp="$venv/.pyproject.sha256"
  local want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup: .venv up to date"
    return
  fi
  echo "setup: installing Python packages into .venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  if ! "$venv/bin/python" -m pip install -q -e ".[dev]"; then
    echo "setup: pip could not install the project's Python packages" >&2
    exit 69
  fi
  echo "$want" > "$stamp"
}

if $python_only; then
  install_python
  exit 0
fi
install_debian
install_node_packages
install_docker
install_python
if $with_tools; then
  if [[ -x "$here/tools/build.sh" ]]; then
    "$here/tools/build.sh"
  else
    echo "setup: tools/build.sh does not exist yet; skipping the Go tools"
  fi
fi
echo "setup: done"
