#!/usr/bin/env bash
# The lab's real node from a shell (docs/real-node.md): kubelet + kube-proxy from the pinned
# Kubernetes build, containerd + runc + CNI plugins from Debian, the service image built
# locally from the project's Dockerfile. The work is done by fixtures/node/ and
# fixtures/images/; `up` first installs missing Debian packages and builds missing tools.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/node/node.sh up [--timeout S] [--zone Z] [--tag T]... | down | status | env
       scripts/node/node.sh images [build [--force] [--only base|pause|service] | list | keys]

  up       install missing Debian packages, build missing tools and images, start
           containerd, kubelet and kube-proxy, join the running lab (make lab-up), wait
           until the node is Ready
  down     delete the node's pods, stop everything, undo the host changes
  status   each component's pid, readiness and log; the Node's readiness (exit 69 if not up)
  env      shell exports: eval "\$(scripts/node/node.sh env)"
  images   the image builds alone (python -m fixtures.images ...; default: build)

State and logs: \${SRE_PLATFORM_CACHE:-~/.cache/sre-platform}/node/ and .../images/
Exit codes: 0 ok, 1 an image build failed, 64 usage, 66 a binary or package is missing,
69 the lab is not up / a component failed, 75 not ready in time.
USAGE
}

[[ $# -ge 1 ]] || { usage >&2; exit 64; }
command=$1
case "$command" in
  -h|--help) usage; exit 0 ;;
  up|down|status|env|images) ;;
  *) echo "node: unknown command '$command'" >&2; usage >&2; exit 64 ;;
esac

# shellcheck source=scripts/lab/venv.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lab/venv.bash" node

case "$command" in
  up)
    scripts/node/install-packages.sh
    tools/build.sh kubernetes # kubelet, kube-proxy, kubectl: a no-op when built
    exec "$python" -m fixtures.node "$@"
    ;;
  images)
    shift
    scripts/node/install-packages.sh
    [[ $# -ge 1 ]] || set -- build
    exec "$python" -m fixtures.images "$@"
    ;;
  *)
    exec "$python" -m fixtures.node "$@"
    ;;
esac
