-- wrk script for bench/scan_api.py: each wrk thread is one station running a realistic
-- scan sequence (badges, work order, then per piece: operation, piece, pause/resume now
-- and then, finish), with event ids that say which thread sent them and in what order.
-- Arguments: TOKEN FIRST_STATION_NUMBER

local counter = 0
local threads = {}

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   token = args[1]
   first = tonumber(args[2] or "1")
   number = first + id
   station = string.format("ST-BENCH-%02d", number)
   badges = { string.format("B-%04d", 2 * number - 1), string.format("B-%04d", 2 * number) }
   order = string.format("OF-2026-%04d", number)
   sent = 0
   answered = 0
   ok = 0
   other = 0
   last_error = ""
   piece = 0
   queue = { badges[1], badges[2], order }
   -- Sequence numbers generated but not yet answered: wrk may generate a request it never
   -- sends, and stops with one in flight; the check must tell those from lost scans.
   pending = {}
   wrk.method = "POST"
   wrk.headers["Authorization"] = "Bearer " .. token
   wrk.headers["Content-Type"] = "application/json"
end

local function refill()
   piece = piece + 1
   local label = string.format("P-2026-%02d%04d", number % 100, piece)
   for _, step in ipairs({ 10, 20, 30 }) do
      table.insert(queue, string.format("%s-%02d", order, step))
      table.insert(queue, label)
      if piece % 10 == 0 and step == 20 then
         table.insert(queue, "A-PAUSE")
         table.insert(queue, "A-PAUSE")
      end
      table.insert(queue, "A-FIN")
   end
   if piece % 25 == 0 then
      -- The second student leaves and comes back: a badge out, a badge in.
      table.insert(queue, badges[2])
      table.insert(queue, badges[2])
   end
end

function request()
   if #queue == 0 then
      refill()
   end
   local code = table.remove(queue, 1)
   local body = string.format(
      '{"event_id":"w%02d-%d","station":"%s","code":"%s","source":"barcode"}',
      number, sent, station, code)
   pending[sent] = true
   sent = sent + 1
   return wrk.format(nil, "/api/v1/scans", nil, body)
end

function response(status, headers, body)
   answered = answered + 1
   local seq = string.match(body, '"event_id": *"w%d+%-(%d+)"')
   if seq then
      pending[tonumber(seq)] = nil
   end
   if status == 201 then
      ok = ok + 1
   else
      other = other + 1
      last_error = status .. " " .. string.gsub(string.sub(body, 1, 200), '[^%w%s:,._-]', ' ')
   end
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      local unanswered = {}
      for seq, _ in pairs(thread:get("pending")) do
         table.insert(unanswered, tostring(seq))
      end
      io.write(string.format('THREAD {"number": %d, "sent": %d, "answered": %d, "ok": %d, "other": %d, "unanswered": [%s], "last_error": "%s"}\n',
         thread:get("number"), thread:get("sent"), thread:get("answered"), thread:get("ok"),
         thread:get("other"), table.concat(unanswered, ","), thread:get("last_error")))
   end
   io.write(string.format('SUMMARY {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d}\n',
      summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
      summary.errors.write, summary.errors.status, summary.errors.timeout,
      latency:percentile(50), latency:percentile(99)))
end
