#!/usr/bin/env bash
# The service against a stock PostgreSQL and Redis (the CI job's service containers, the
# images production runs), as a deployed pod would use them: migrate, serve, then one API
# round trip that writes, reads through the cache, deletes, and checks the metrics.
# The test suite itself starts its own servers on loopback so that it can stop them
# mid-test; this step proves the same code against the container images as well.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: .github/scripts/service-smoke.sh

Needs DATABASE_URL and REDIS_URL (e.g. the CI job's service containers) and the project's
.venv. Starts 'python -m sre_platform serve' on \$PORT (default 18080), checks it, stops it.
Exit codes: 0 ok, 1 a check failed, 64 usage, 69 a dependency or the service is unreachable.
USAGE
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "service-smoke: unexpected argument '$1'" >&2; usage >&2; exit 64 ;;
esac
if [[ -z "${DATABASE_URL:-}" || -z "${REDIS_URL:-}" ]]; then
  echo "service-smoke: DATABASE_URL and REDIS_URL must be set" >&2
  usage >&2
  exit 64
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
py="$root/.venv/bin/python"
[[ -x "$py" ]] || { echo "service-smoke: $py is missing; run scripts/setup.sh --python-only" >&2; exit 69; }
export PORT=${PORT:-18080}
base="http://127.0.0.1:$PORT"
log=$(mktemp)

fail() { echo "service-smoke: FAIL: $*" >&2; echo "--- service log (tail)" >&2; tail -n 40 "$log" >&2; exit "${2:-1}"; }

echo "service-smoke: migrating"
"$py" -m sre_platform migrate --wait 60 || fail "migrations failed against the PostgreSQL container" 69

"$py" -m sre_platform serve >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 60); do
  kill -0 "$pid" 2>/dev/null || fail "the service exited during start-up" 69
  if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]]; then break; fi
  sleep 0.5
done
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]] || fail "/readyz did not answer 200 within 30 s" 69
echo "service-smoke: /readyz 200"

# check <method> <path> <expected status> [json body]: the body goes to $body.
check() {
  local method=$1 path=$2 want=$3 data=${4:-} code
  local args=(-s -o "$log.body" -w '%{http_code}' -X "$method" "$base$path")
  [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' --data "$data")
  code=$(curl "${args[@]}")
  body=$(cat "$log.body")
  [[ "$code" == "$want" ]] || fail "$method $path answered $code, expected $want: $body"
  echo "service-smoke: $method $path $code"
}

check GET /healthz 200
check GET /version 200
check POST /api/v1/items 201 '{"name": "ci-smoke", "quantity": 1}'
id=$("$py" -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$body")
check GET "/api/v1/items/$id" 200
check GET "/api/v1/items/$id" 200 # the second read comes from the Redis cache
check DELETE "/api/v1/items/$id" 204
check GET "/api/v1/items/$id" 404
check GET /metrics 200
grep -q '^http_requests_total{' <<<"$body" || fail "/metrics has no http_requests_total series"
rm -f "$log.body"
echo "service-smoke: ok"
