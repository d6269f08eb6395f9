#!/bin/sh
# A POSIX sh script: no pipefail, but errexit and nounset.
set -eu
echo "ok"
