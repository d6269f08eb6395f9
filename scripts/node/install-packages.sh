#!/usr/bin/env bash
# Install the Debian packages the lab's real node and its image builds need, once:
# a package that is already installed is not touched (no apt-get update either).
set -euo pipefail

# binary-free check by package name; keep in step with docs/real-node.md.
packages=(
  containerd                   # containerd 1.6, ctr, containerd-shim-runc-v2
  runc                         # the OCI runtime (crun refuses this host's hybrid cgroups)
  containernetworking-plugins  # bridge, host-local, loopback, portmap in /usr/lib/cni
  iptables                     # kube-proxy's iptables mode
  conntrack                    # kube-proxy's conntrack clean-up
  iproute2                     # ip: the node's bridge
  openssl                      # node certificates signed by the lab's CA
  buildah                      # daemonless image builds from the project's Dockerfile
  debootstrap                  # the Debian base image
  postgresql                   # PostgreSQL and Redis on the node's address for real pods
  redis-server
)

usage() {
  cat <<USAGE
Usage: scripts/node/install-packages.sh [--check]

Install what is missing of: ${packages[*]}
  --check     only report what is missing (exit 66 when something is)
  -h, --help  this text
Needs root (apt-get). Exit codes: 0 ok, 64 usage, 66 missing (--check), 69 apt-get failed.
USAGE
}

check_only=false
case "${1:-}" in
  "") ;;
  --check) check_only=true ;;
  -h|--help) usage; exit 0 ;;
  *) echo "install-packages: unknown option '$1'" >&2; usage >&2; exit 64 ;;
esac

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if $check_only; then
  echo "install-packages: missing Debian packages: ${missing[*]}" >&2
  exit 66
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-packages: missing ${missing[*]}; installing needs root" >&2
  exit 69
fi
echo "install-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_get=(apt-get -o DPkg::Lock::Timeout=600 -q)
if ! "${apt_get[@]}" install -y --no-install-recommends "${missing[@]}"; then
  # A stale package list is the usual cause: refresh it once and retry.
  "${apt_get[@]}" update || { echo "install-packages: apt-get update failed" >&2; exit 69; }
  "${apt_get[@]}" install -y --no-install-recommends "${missing[@]}" \
    || { echo "install-packages: apt-get install ${missing[*]} failed" >&2; exit 69; }
fi
