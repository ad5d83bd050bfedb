#!/usr/bin/env bash
# rollout-fleetsim against a real rollout-server (TLS on 127.0.0.1, poll_interval 1s):
#   bad flags exit 2 naming the flag, a too-low file-descriptor hard limit exits 2 saying how
#   many descriptors it needs;
#   50 simulated agents on 8 keep-alive connections all enroll and the server lists them; 1.1.0
#   promoted to stable while they run: every agent records the install and reports success;
#   1.1.0 rolled back: every agent records the downgrade to 1.0.0 and the server has them all on
#   1.0.0; the summary counts no failed check-in and no verification failure;
#   a wrong --directive-keys: only verification failures, nothing received;
#   a hostile plain-http server (not JSON, 2 MiB, forged directives): counted, exit 0;
#   30 agents with --long-poll and a 60 s interval: held on the server (its metrics), every one
#   has the downgrade of a rollback in the held check-in the rollback answered (its metrics);
#   200 agents with a connection each over a soft descriptor limit of 100 (raised by fleetsim),
#   enrolled with 3 clients, 2 sites and 10 % beta: the server shows that mix.
# Bounded: every fleetsim run has its own --duration; waits are bounded. Stops all it started.
# usage: fleetsim.sh BIN_DIR WORK_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BIN_DIR WORK_DIR" >&2; exit 2; }
host=$1 work=$2
source "$(dirname "$0")/lib/server.sh"
sim="$host/tools/rollout-fleetsim"
[ -x "$sim" ] || fail "$sim not built"
command -v jq >/dev/null || fail "jq missing"

rm -rf "$work"
mkdir -p "$work"
start_server
printf '%s\n' "$enroll" >"$work/enroll-key"
chmod 600 "$work/enroll-key"
keys=(--directive-keys "$work/keys/directive.pub" --release-keys "$work/keys/release.pub")
flags=(--server "$url" --ca-file "$work/tls.pem" --enrollment-key-file "$work/enroll-key"
  "${keys[@]}")

# ---- bad flags: exit 2, the flag named, nothing run ----
prefix=()
refused() { # EXPECTED_TEXT ARGS...: exit 2 and the text on stderr
  local want=$1 rc=0
  shift
  ${prefix:+"${prefix[@]}"} "$sim" "$@" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
  [ "$rc" = 2 ] || fail "fleetsim $* exited $rc, not 2"
  grep -qF -- "$want" "$work/bad.err" || fail "fleetsim $*: '$want' not in: $(cat "$work/bad.err")"
  [ ! -s "$work/bad.out" ] || fail "fleetsim $* printed a summary"
}
refused "--agents: required" "${flags[@]}"
refused "--agents: '0'" "${flags[@]}" --agents 0
refused "--agents: 20 is above --max-agents 10" "${flags[@]}" --agents 20 --max-agents 10
refused "--outcomes: unknown outcome 'boom'" "${flags[@]}" --agents 1 --outcomes success=1,boom=2
refused "--interval: 'soon'" "${flags[@]}" --agents 1 --interval soon
refused "--server: 'ftp://x'" --server ftp://x --agents 1
refused "--ca-file: required" --server "$url" --agents 1 --enrollment-key-file "$work/enroll-key" \
  "${keys[@]}"
refused "--directive-keys:" --server "$url" --ca-file "$work/tls.pem" --agents 1 \
  --enrollment-key-file "$work/enroll-key" --directive-keys "$work/tls.pem" \
  --release-keys "$work/keys/release.pub"
refused "--frobnicate: unknown flag" "${flags[@]}" --agents 1 --frobnicate 1
prefix=(bash -c 'ulimit -Sn 128; ulimit -Hn 256; exec "$0" "$@"')
refused "needs 564 file descriptors but the hard limit (ulimit -Hn) is 256" "${flags[@]}" \
  --agents 500 --connections per-agent
prefix=()

# ---- releases: 1.0.0 stable, 1.1.0 published (artifacts are never downloaded) ----
release() { # VERSION
  local a="$work/artifacts/sim-$1"
  head -c 4096 /dev/urandom >"$a"
  "$ctl" sign-release --key "$work/keys/release.key" --artifact "$a" --version "$1" --os linux \
    --arch x86_64 --security-version 1 --out "$a.manifest" >/dev/null
  api publish --manifest "$a.manifest" --artifact "$a" >/dev/null || fail "publish $1"
}
release 1.0.0
api promote 1.0.0 --os linux --arch x86_64 --force --reason "fleetsim: first stable" >/dev/null ||
  fail "promote 1.0.0"
release 1.1.0

# ---- 50 agents: enroll, install 1.1.0, downgrade on its rollback ----
"$sim" "${flags[@]}" --agents 50 --connections 8 --threads 2 --duration 25s --apply-delay 200ms \
  --ready-file "$work/ready" --mark-file "$work/mark" >"$work/run.json" 2>"$work/run.err" &
simpid=$!
pids+=("$simpid")
server_pids=("${pids[@]:0:${#pids[@]}-1}")  # stop_all's list without the simulator
wait_for 15 "the 50 agents ready" test -f "$work/ready"
listed() { [ "$(get /api/agents | jq '[.agents[] | select(.hostname | startswith("sim-"))] | length')" = 50 ]; }
wait_for 5 "the server listing 50 agents" listed

api promote 1.1.0 --os linux --arch x86_64 --force --reason "fleetsim: install" >/dev/null ||
  fail "promote 1.1.0"
# The promotion starts a rollout in waves; let every stable agent in at once.
api rollout all 1.1.0 --os linux --arch x86_64 --reason "fleetsim: all at once" >/dev/null ||
  fail "rollout all 1.1.0"
wait_for 15 "50 successes of 1.1.0" count_is 1.1.0 linux x86_64 success 50
on() { [ "$(get /api/agents | jq --arg v "$1" '[.agents[] | select(.current_version == $v)] | length')" = 50 ]; }
wait_for 10 "the server having all 50 on 1.1.0" on 1.1.0

date +%s.%N >"$work/mark"
out=$(api rollback 1.1.0 --os linux --arch x86_64 --reason "fleetsim: bad build") ||
  fail "rollback: $out"
wait_for 15 "the server having all 50 back on 1.0.0" on 1.0.0
kill -TERM "$simpid"
rc=0
wait "$simpid" || rc=$?
pids=("${server_pids[@]}")
[ "$rc" = 0 ] || fail "fleetsim exited $rc: $(cat "$work/run.err")"
s=$(cat "$work/run.json")
check() { # JQ_EXPRESSION WHAT
  jq -e "$1" <<<"$s" >/dev/null || fail "$2: $s"
}
check '.agents_enrolled == 50 and .ready' "not all 50 enrolled and ready"
check '.checkins.failed == 0 and .checkins.answered > 100' "check-ins failed or too few"
check '.verification_failures == {}' "verification failures with the right key"
check '[.received[] | select(.action == "install" and .version == "1.1.0" and .agents == 50)]
       | length == 1' "not every agent recorded the install of 1.1.0"
check '[.received[] | select(.action == "downgrade" and .version == "1.0.0" and .agents == 50
        and .from == "mark" and .last_ms >= .p95_ms and .p95_ms >= .first_ms)] | length == 1' \
  "not every agent recorded the downgrade to 1.0.0 after the mark"
check '.reports.outcomes.success == 100 and .reports.acknowledged == 100' \
  "not 100 reports (50 installs, 50 downgrades) acknowledged"

# ---- long-poll: 30 agents hold their check-ins; polling every 60 s could not pass this ----
release 1.2.0
api promote 1.2.0 --os linux --arch x86_64 --force --reason "fleetsim: long-poll" >/dev/null ||
  fail "promote 1.2.0"
api rollout all 1.2.0 --os linux --arch x86_64 --reason "fleetsim: all at once" >/dev/null ||
  fail "rollout all 1.2.0"
"$sim" "${flags[@]}" --agents 30 --connections per-agent --long-poll 20 --interval 60s \
  --version 1.2.0 --name-prefix lp --duration 40s --apply-delay 200ms --ready-file "$work/lp-ready" \
  --mark-file "$work/lp-mark" >"$work/lp.json" 2>"$work/lp.err" &
simpid=$!
pids+=("$simpid")
wait_for 15 "the 30 long-poll agents ready" test -f "$work/lp-ready"
held() { [ "$(get /metrics | sed -n 's/^rollout_checkins_held //p')" = "$1" ]; }
wait_for 10 "30 check-ins held" held 30
date +%s.%N >"$work/lp-mark"
api rollback 1.2.0 --os linux --arch x86_64 --reason "fleetsim: long-poll rollback" >/dev/null ||
  fail "rollback 1.2.0"
lp_on() { [ "$(get /api/agents | jq --arg v "$1" '[.agents[] | select((.hostname | startswith("lp-"))
  and .current_version == $v)] | length')" = 30 ]; }
wait_for 90 "the 30 long-poll agents back on 1.0.0" lp_on 1.0.0
# Each downgrade came with a held check-in the rollback answered, not with a later poll.
early() { [ "$(get /metrics | sed -n 's/^rollout_checkins_answered_early_total //p')" = 30 ]; }
early || fail "not 30 held check-ins answered early: $(get /metrics | grep checkins)"
kill -TERM "$simpid"
rc=0
wait "$simpid" || rc=$?
pids=("${server_pids[@]}")
[ "$rc" = 0 ] || fail "fleetsim --long-poll exited $rc: $(cat "$work/lp.err")"
s=$(cat "$work/lp.json")
check '.agents_enrolled == 30 and .checkins.failed == 0 and .checkins.held >= 30' \
  "long-poll check-ins not held, or failed"
check '[.received[] | select(.action == "downgrade" and .version == "1.0.0" and .agents == 30
        and .from == "mark")] | length == 1' "not every long-poll agent had the downgrade after the mark"
refused "--long-poll: needs --connections per-agent" "${flags[@]}" --agents 100 --long-poll 10
refused "--long-poll: '301'" "${flags[@]}" --agents 5 --connections per-agent --long-poll 301

# ---- a wrong directive key: every directive refused, none received ----
mkdir -p "$work/other"
"$ctl" keygen --role directive --out "$work/other" >/dev/null
"$sim" --server "$url" --ca-file "$work/tls.pem" --enrollment-key-file "$work/enroll-key" \
  --directive-keys "$work/other/directive.pub" --release-keys "$work/keys/release.pub" \
  --agents 10 --version 0.9.0 --duration 3s >"$work/wrong.json" 2>"$work/wrong.err" ||
  fail "fleetsim with another directive key: $(cat "$work/wrong.err")"
s=$(cat "$work/wrong.json")
check '.agents_enrolled == 10 and .received == [] and .directives_verified == 0' \
  "a directive accepted with the wrong key"
check '.verification_failures.invalid_signature >= 10' "no signature failures with the wrong key"

# ---- a hostile server (plain http): garbage, a 2 MiB body, a forged directive; never a crash ----
cat >"$work/hostile.py" <<'PY'
import http.server, itertools, json, sys, uuid
turn = itertools.count()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.endswith("/enroll"):
            body = json.dumps({"agent_id": str(uuid.uuid4()), "token": "t" * 32}).encode()
        else:
            body = [b"not json{", b"x" * (2 << 20), b'{"poll_interval_s": 1, "directive": {"a": 1}}',
                    b'{"poll_interval_s": 1, "directive": ' + b"[" * 5000 + b"]" * 5000 + b"}"
                    ][next(turn) % 4]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
timeout 30 python3 "$work/hostile.py" >"$work/hostile.port" 2>"$work/hostile.err" &
pids+=($!)
wait_for 5 "the hostile server" test -s "$work/hostile.port"
"$sim" --server "http://127.0.0.1:$(cat "$work/hostile.port")" --enrollment-key-file "$work/enroll-key" \
  "${keys[@]}" --agents 4 --interval 200ms --duration 3s >"$work/hostile.json" 2>"$work/hostile.err" ||
  fail "fleetsim against garbage exited non-zero: $(cat "$work/hostile.err")"
s=$(cat "$work/hostile.json")
check '.agents_enrolled == 4 and .received == [] and .checkins.failures.bad_answer > 0
       and .checkins.failures.too_large > 0 and .verification_failures.invalid_document > 0' \
  "garbage not counted as errors"

# ---- one connection per agent above the soft descriptor limit (raised), the enrollment mix ----
bash -c 'ulimit -Sn 100; exec "$0" "$@"' "$sim" "${flags[@]}" --agents 200 --connections per-agent \
  --clients 3 --sites 2 --beta-percent 10 --name-prefix mix --duration 4s >"$work/mix.json" \
  2>"$work/mix.err" || fail "fleetsim with 200 connections over a soft limit of 100: $(cat "$work/mix.err")"
s=$(cat "$work/mix.json")
check '.agents_enrolled == 200 and .connections == 200 and .checkins.failed == 0' \
  "200 agents on their own connections"
s=$(get /api/agents)
check '[.agents[] | select(.hostname | startswith("mix-"))] as $m | ($m | length) == 200
       and ([$m[].client] | unique) == ["client-1", "client-2", "client-3"]
       and ([$m[].site] | unique) == ["site-1", "site-2"]
       and ([$m[] | select(.channel == "beta")] | length) == 20' "the enrollment mix on the server"
echo "fleetsim: all checks passed"
