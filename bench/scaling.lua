-- wrk script for the scaling run (bench/scaling): GET /api/v1/properties?limit=20 with the tokens of
-- BENCH_TOKENS (one per line, each a user of its own agency), round robin. Prints "SCALING_RESULT {json}".
local tokens = {}
local n = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
end

function request()
  n = n + 1
  local token = tokens[(n % #tokens) + 1]
  return wrk.format("GET", "/api/v1/properties?limit=20", { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
  local errs = summary.errors
  io.write(string.format(
    'SCALING_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"err_connect":%d,"err_read":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    errs.status, errs.connect, errs.read, errs.timeout))
end
