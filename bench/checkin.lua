-- wrk script: POST check-ins in steady state (no directive pending), cycling through the agents
-- listed in ROLLOUT_AGENTS (one "token<TAB>body" line each), so that consecutive check-ins of one
-- agent are as far apart as in a fleet of that size.
local agents = {}
for line in io.lines(os.getenv("ROLLOUT_AGENTS")) do
  local token, body = line:match("^([^\t]+)\t(.+)$")
  agents[#agents + 1] = { token = token, body = body }
end
local next_agent = 0

function setup(thread)
  thread:set("offset", math.random(#agents))
end

function request()
  next_agent = (next_agent + 1) % #agents
  local a = agents[((next_agent + (offset or 0)) % #agents) + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. a.token,
  }, a.body)
end
