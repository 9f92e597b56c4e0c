-- wrk script for the Innkeep benchmark (bench/run). Authenticated requests against the seeded data
-- set, chosen at random per request. Environment:
--   BENCH_SCENARIO  health | health-live | properties-admin | properties-owner | properties-50 | bookings-list |
--                   bookings-create | bookings-create-idem | bookings-create-hooks | mix | calendar | availability |
--                   ical-export
--   BENCH_LARGE_TARGETS  the same for the large agency (agency 0) that `availability` searches
--   BENCH_FEED_TARGETS   export feed paths (/ical/<token>.ics), one per line, for `ical-export`
--   BENCH_TARGETS   the file bench/targets.py wrote (one agency per line)
--   BENCH_THREADS   wrk's -t (to number requests uniquely across threads)
--   BENCH_DAY_BASE  days after 2100-01-01 where this run's new bookings start (bench/run advances it)
--   BENCH_BOOKINGS  seeded bookings per property (read ranges stay inside the seeded stays)
--   BENCH_RUN_ID    makes Idempotency-Key values unique per run
-- done() prints one line "BENCH_RESULT {json}" that bench/run parses.

local scenario = os.getenv("BENCH_SCENARIO") or "properties-admin"
local threads_total = tonumber(os.getenv("BENCH_THREADS") or "2")
local day_base = tonumber(os.getenv("BENCH_DAY_BASE") or "0")
local seeded_bookings = tonumber(os.getenv("BENCH_BOOKINGS") or "100")
local run_id = os.getenv("BENCH_RUN_ID") or "run"

local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

local agencies = {}     -- {id, admin, owner, props = {...}, owned = {...}}
local all_props = {}    -- {agency index, property id}
local counter, writes = 0, 0
local DAY = 86400
local epoch_2100 = 4102444800
local epoch_2022_01_03 = 1641168000

local function split(line)
  local t = {}
  for w in line:gmatch("%S+") do t[#t + 1] = w end
  return t
end

local large_admin = nil
local feeds = {}

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  local large = os.getenv("BENCH_LARGE_TARGETS")
  if large then for line in io.lines(large) do large_admin = split(line)[2] end end
  local feed_file = os.getenv("BENCH_FEED_TARGETS")
  if feed_file then for line in io.lines(feed_file) do feeds[#feeds + 1] = line end end
  for line in io.lines(os.getenv("BENCH_TARGETS")) do
    local w = split(line)
    local a = { id = w[1], admin = w[2], owner = w[3], props = {}, owned = {} }
    local i, into = 4, a.props
    while w[i] do
      if w[i] == ";" then into = a.owned else into[#into + 1] = w[i] end
      i = i + 1
    end
    agencies[#agencies + 1] = a
    for _, p in ipairs(a.props) do all_props[#all_props + 1] = { #agencies, p } end
  end
end

local function date(days_since, base)
  return os.date("!%Y-%m-%d", base + days_since * DAY)
end

local function auth(token)
  return { ["Authorization"] = "Bearer " .. token }
end

local function list_properties(role)
  local a = agencies[math.random(#agencies)]
  return wrk.format("GET", "/api/v1/properties", auth(role == "owner" and a.owner or a.admin))
end

local function list_bookings()
  local target = all_props[math.random(#all_props)]
  local a = agencies[target[1]]
  -- a 30-day window inside the seeded stays (4 days apart from 2022-01-03)
  local from = math.random(0, math.max(0, seeded_bookings * 4 - 30))
  local path = "/api/v1/bookings?property_id=" .. target[2] .. "&from=" .. date(from, epoch_2022_01_03)
      .. "&to=" .. date(from + 30, epoch_2022_01_03)
  return wrk.format("GET", path, auth(a.admin))
end

local function calendar()
  -- 90 nights of one property, inside the seeded stays and blocks
  local target = all_props[math.random(#all_props)]
  local a = agencies[target[1]]
  local from = math.random(0, math.max(0, seeded_bookings * 4 - 90))
  local path = "/api/v1/properties/" .. target[2] .. "/calendar?from=" .. date(from, epoch_2022_01_03)
      .. "&to=" .. date(from + 90, epoch_2022_01_03)
  return wrk.format("GET", path, auth(a.admin))
end

local function availability()
  -- a 7-night search over the large agency, inside its seeded stays
  local from = math.random(0, math.max(0, seeded_bookings * 4 - 7))
  local path = "/api/v1/availability?check_in=" .. date(from, epoch_2022_01_03) .. "&check_out="
      .. date(from + 7, epoch_2022_01_03) .. "&guests=2"
  return wrk.format("GET", path, auth(large_admin))
end

local function create_booking(idempotent)
  -- A unique number across threads, mapped one-to-one onto (property, night): never a conflict.
  local seq = writes * threads_total + tid
  writes = writes + 1
  local target = all_props[(seq % #all_props) + 1]
  local night = day_base + math.floor(seq / #all_props)
  local a = agencies[target[1]]
  local headers = auth(a.admin)
  headers["Content-Type"] = "application/json"
  if idempotent then headers["Idempotency-Key"] = "bench-" .. run_id .. "-" .. seq end
  local body = '{"property_id":"' .. target[2] .. '","guest_name":"Bench Guest ' .. seq
      .. '","guest_email":"bench' .. seq .. '@example.com","check_in":"' .. date(night, epoch_2100)
      .. '","check_out":"' .. date(night + 1, epoch_2100) .. '","guests":2,"source":"direct",'
      .. '"total_amount_cents":12000,"currency":"EUR"}'
  return wrk.format("POST", "/api/v1/bookings", headers, body)
end

function request()
  counter = counter + 1
  if scenario == "health" then return wrk.format("GET", "/health")
  elseif scenario == "health-live" then return wrk.format("GET", "/health/live")
  elseif scenario == "properties-admin" then return list_properties("admin")
  elseif scenario == "properties-owner" then return list_properties("owner")
  elseif scenario == "bookings-list" then return list_bookings()
  elseif scenario == "properties-50" then
    -- a full page of 50 properties: the large agency (agency 0) has BENCH_LARGE_PROPERTIES of them
    return wrk.format("GET", "/api/v1/properties?limit=50", auth(large_admin))
  elseif scenario == "bookings-create" or scenario == "bookings-create-hooks" then return create_booking(false)
  elseif scenario == "bookings-create-idem" then return create_booking(true)
  elseif scenario == "calendar" then return calendar()
  elseif scenario == "availability" then return availability()
  elseif scenario == "ical-export" then return wrk.format("GET", feeds[math.random(#feeds)])  -- anonymous, as channels poll
  elseif scenario == "mix" then
    -- 50/50: every other request creates a booking; reads alternate between the two lists
    if counter % 2 == 0 then return create_booking(false)
    elseif counter % 4 == 1 then return list_bookings()
    else return list_properties("admin") end
  end
  error("unknown BENCH_SCENARIO " .. scenario)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
