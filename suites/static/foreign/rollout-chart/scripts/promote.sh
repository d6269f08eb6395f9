#!/usr/bin/env bash
# Promote the checkout canary in one environment.
set -euo pipefail
env=${1:?usage: promote.sh <staging|prod>}
cd $(dirname "$0")
kubectl argo rollouts promote checkout -n "checkout-$env"
