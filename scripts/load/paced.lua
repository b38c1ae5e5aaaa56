-- wrk script: the requests of voice.lua, each connection pausing between them so
-- that all connections together send a steady rate. Arguments: the requests
-- file and the pause in milliseconds (connections × 1000 / rate).
dofile("scripts/load/voice.lua")
local pause = 0
local init_requests = init

function init(args)
  init_requests(args)
  pause = tonumber(args[2])
end

function delay()
  return pause
end
