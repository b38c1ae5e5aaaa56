-- wrk script: POST the pre-signed incoming-call webhooks, one after another.
local requests = {}
local i = 0

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
end

function request()
  i = i % #requests + 1
  return requests[i]
end
