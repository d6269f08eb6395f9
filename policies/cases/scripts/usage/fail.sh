#!/usr/bin/env bash
set -euo pipefail
kubectl argo rollouts promote "$2" -n "$1"
