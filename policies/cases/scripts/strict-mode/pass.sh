#!/usr/bin/env bash
# Strict mode right after the header comment.
set -euo pipefail
echo ok
