#!/usr/bin/env bash
set -euo pipefail
git reset --hard HEAD~1
git push --force origin main
