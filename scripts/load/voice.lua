-- wrk script: POST the pre-signed incoming-call webhooks, one after another.
local requests = {}
local i = 0
local n = 0

function init(args)
  for line in io.lines(args[1]) do
    local body, sig = line:match("^(.-)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", "/telephony/voice", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = sig,
    }, body)
  end
  -- Each thread starts at its own offset so CallSids do not repeat across threads.
  i = math.random(#requests)
  n = #requests
  -- request() makes no garbage; without this the collector walks the table of
  -- 200 000 requests again and again and wrk, not the server, sets the pace.
  collectgarbage("collect")
  collectgarbage("stop")
end

function request()
  i = i % n + 1
  return requests[i]
end
