-- wrk script: POST pre-signed Stripe webhook bodies, one per request, in rotation.
-- The file named by BODIES holds one "signature<TAB>body" per line (signed at the start of
-- the run, so timestamps are fresh). Each thread starts at its own offset.
local lines = {}
local index = 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(os.getenv("BODIES")) do
    lines[#lines + 1] = line
  end
  index = id * 7919 % #lines
end

function request()
  index = index % #lines + 1
  local line = lines[index]
  local tab = line:find("\t", 1, true)
  local headers = {}
  headers["Stripe-Signature"] = line:sub(1, tab - 1)
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/webhooks/stripe", headers, line:sub(tab + 1))
end
