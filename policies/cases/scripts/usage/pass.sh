#!/usr/bin/env bash
set -euo pipefail
usage() { echo "Usage: promote.sh <env> <app>"; }
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
