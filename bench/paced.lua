-- wrk script: each connection waits BENCH_DELAY_MS between its requests, which paces the
-- whole run near connections * 1000 / BENCH_DELAY_MS requests/s. wrk times a request from
-- when it is sent, so the wait is not part of the measured latency.
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "10")

function delay()
  return delay_ms
end
