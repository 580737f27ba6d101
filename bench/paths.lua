-- wrk script for crawlbench's benchmark: rotates requests over the paths listed in a file, one path
-- a line (bench/run.sh writes 1,000 /api/<id> paths taken from /graph/sample). Every request is
-- formatted once, in init(), so that the client spends no time in Lua per request beyond a table
-- lookup. Headers given with wrk -H (e.g. 'Connection: close') are part of each request.
--   wrk -t1 -c50 -d10s -s bench/paths.lua http://127.0.0.1:PORT -- /tmp/crawlbench-bench/paths.txt

local requests = {}
local count = 0
local i = 0

function init(args)
   local file = args[1]
   if file == nil then
      error("paths.lua: pass the path list after --, e.g. -- paths.txt")
   end
   for line in io.lines(file) do
      if #line > 0 then
         count = count + 1
         requests[count] = wrk.format(nil, line)
      end
   end
   if count == 0 then
      error("paths.lua: no paths in " .. file)
   end
   -- Each thread starts at its own place in the list (wrk gives every thread its own Lua state).
   i = math.random(count) - 1
end

function request()
   i = i % count + 1
   return requests[i]
end

-- No response() hook: defining one makes wrk hand every answer to Lua, which would cost the client
-- more CPU than the server spends. wrk reports non-2xx answers itself ("Non-2xx or 3xx responses").
