-- wrk script: POST one agent's check-in over and over (steady state: no directive pending).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ROLLOUT_TOKEN")
wrk.body = os.getenv("ROLLOUT_BODY")
