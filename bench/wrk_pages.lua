-- wrk script: cycles through the pages in WRK_PATHS (space-separated) with the session cookie in
-- WRK_COOKIE, and counts every response that is not a 200 (wrk itself lets 3xx pass).
local paths = {}
for path in string.gmatch(os.getenv("WRK_PATHS") or "/", "%S+") do paths[#paths + 1] = path end
local cookie = os.getenv("WRK_COOKIE") or ""
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  position, not_ok = 0, 0
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position], { Cookie = cookie })
end

function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("not_ok") end
  io.write(string.format("not_200 %d\n", total))
  for _, p in ipairs({ 50, 90, 95, 99 }) do
    io.write(string.format("latency_p%d_ms %.1f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("requests %d\nseconds %.1f\nerrors %d\n", summary.requests,
    summary.duration / 1e6, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout))
end
