#!/usr/bin/env bash
set -euo pipefail
# Never `git push --force`: a rollback is a new commit.
git revert --no-edit "$commit"
git push origin HEAD:main
