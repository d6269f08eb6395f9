#!/bin/sh
# A POSIX sh script that goes on after a failed step.
set -e
false || echo "ignored"
cp missing /tmp/x
echo "still running"
