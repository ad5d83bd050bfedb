// The endpoint-facing API: enrollment, check-in (with signed directives), outcome reports and
// artifact downloads.
#include <boost/json.hpp>
#include <set>

#include "common/encoding.hpp"
#include "common/protocol.hpp"
#include "common/release.hpp"
#include "common/semver.hpp"
#include "common/time.hpp"
#include "server-plugin/app/handlers.hpp"
#include "server-plugin/app/long_poll.hpp"
#include "server-plugin/app/report_checks.hpp"
#include "server-plugin/app/targets.hpp"
#include "server-plugin/app/views.hpp"
#include "server-plugin/app/wave_rollouts.hpp"

namespace rollout::server::handlers {
namespace {

namespace bj = boost::json;

int utc_minute_of_day(std::int64_t now) {
  return static_cast<int>((now % 86400 + 86400) % 86400 / 60);
}

// Signs a directive moving `agent` to `target`, or re-sends the one already issued while it is
// still valid. Runs on the check-in's Tx; the store hands out the sequence (one atomic step), so
// two servers signing for one agent at once never issue the same one.
Expected<std::string> directive_for(AppState& s, Tx& tx, const Agent& agent, const Release& target,
                                    DirectiveAction action, const std::string& channel) {
  const std::string act(to_string(action));
  const std::int64_t now = s.now();
  if (agent.directive && agent.directive->version == target.key.version &&
      agent.directive->action == act && agent.directive->expires_at > now + 60) {
    return agent.directive->envelope;
  }
  auto release_env = parse_envelope(target.manifest);
  if (!release_env) return release_env.error();
  Directive d;
  d.agent_id = agent.id;
  d.channel = channel;
  d.action = action;
  d.release = *release_env;
  auto seq = tx.next_directive_sequence(agent.id);
  if (!seq) return seq.error();
  d.sequence = *seq;
  d.issued_at = SysTime(std::chrono::seconds(now));
  d.expires_at =
      d.issued_at + std::chrono::duration_cast<std::chrono::seconds>(s.cfg.directive_lifetime);
  d.reason = action == DirectiveAction::downgrade ? "rollback to " + target.key.version
                                                  : channel + " target " + target.key.version;
  auto env = sign_envelope(std::string(kDirectivePayloadType), d.to_payload(), {*s.directive_key});
  if (!env) return env.error();
  const std::string text = serialize_envelope(*env);
  DirectiveRecord rec{
      target.key.version, act, d.sequence,
      now + std::chrono::duration_cast<std::chrono::seconds>(s.cfg.directive_lifetime).count(),
      text};
  if (auto st = tx.set_agent_directive(agent.id, rec); !st) return st.error();
  // From now on the agent may report on the release it was sent to (report_checks.hpp).
  if (auto st = note_directed_release(tx, agent, target.key, act, now); !st) return st.error();
  (action == DirectiveAction::install ? s.metrics.directives_install
                                      : s.metrics.directives_downgrade)++;
  return text;
}

}  // namespace

http::Response enroll(AppState& s, Ctx& c) {
  auto req = protocol::EnrollRequest::parse(c.req.body);
  if (!req) return bad_request(req.error().code, req.error().message);
  bool key_ok = false;
  for (const auto& k : s.cfg.enrollment_keys) {
    if (crypto::constant_time_equal(k, req->enrollment_key)) key_ok = true;
  }
  if (!key_ok) {
    s.metrics.auth_failures++;
    s.log("warn", "agent-api", "enrollment refused: unknown enrollment key",
          {{"hostname", req->hostname}});
    return http::error_response(401, "unauthorized", "unknown enrollment key");
  }
  const std::string token = encoding::hex(crypto::random_bytes(32));
  const std::string token_hash = crypto::sha256_hex(token);
  // The same machine enrolling again (reinstall) keeps its identity and gets a fresh token.
  auto existing = s.store->find_agent_by_machine_id(req->machine_id);
  if (!existing) return internal_error(existing.error());
  if (*existing) {
    if (auto st = s.store->set_agent_token((*existing)->id, token_hash); !st)
      return internal_error(st.error());
    return http::json_response(200, protocol::EnrollResponse{(*existing)->id, token}.to_json());
  }
  Agent a;
  a.id = protocol::new_uuid();
  a.token_hash = token_hash;
  a.hostname = req->hostname;
  a.machine_id = req->machine_id;
  a.os = req->os;
  a.arch = req->arch;
  a.current_version = req->current_version;
  a.client = req->client.value_or("");
  a.site = req->site.value_or("");
  a.channel_hint = req->channel_hint.value_or("");
  a.enrolled_at = s.now();
  if (auto st = s.store->insert_agent(a); !st) return internal_error(st.error());
  s.log("info", "agent-api", "agent enrolled", {{"agent_id", a.id}, {"hostname", a.hostname}});
  return http::json_response(200, protocol::EnrollResponse{a.id, token}.to_json());
}

namespace {

// What one check-in decides, on `tx`: what the agent reported is recorded (when it changed, or
// the stored time is checkin_record_interval old: no fsync for most check-ins of a steady
// fleet), and the directive it gets, if any. Deciding again with the same request changes
// nothing more (a held check-in is decided again after each change).
struct CheckinDecision {
  protocol::CheckinResponse answer;
  std::optional<std::string> directive;
  std::optional<std::string> below_floor;  // the downgrade target the security floor refused
};

Expected<CheckinDecision> decide_checkin(AppState& s, Tx& tx, const std::string& agent_id,
                                         const protocol::CheckinRequest& req) {
  CheckinDecision out;
  auto& answer = out.answer;
  answer.poll_interval_s = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(s.cfg.poll_interval).count());
  if (req.state == "probation" || req.state == "downloading" || req.state == "staged") {
    answer.poll_interval_s = std::min<std::uint64_t>(answer.poll_interval_s, 10);
  }
  const std::int64_t record_every =
      std::chrono::duration_cast<std::chrono::seconds>(s.cfg.checkin_record_interval).count();
  auto fresh = tx.get_agent(agent_id);
  if (!fresh) return fresh.error();
  if (!*fresh) return make_error("not_found", "the agent is gone");
  Agent agent = fresh->value();
  // The agent page shows a download's progress with its state ("downloading 43 %").
  const std::string shown_state =
      req.progress_percent ? req.state + " " + std::to_string(*req.progress_percent) + " %"
                           : req.state;
  const bool changed = agent.current_version != req.current_version || agent.state != shown_state ||
                       req.security_floor > agent.security_floor;
  const bool record_time = s.now() - agent.last_checkin_at >= record_every;
  agent.current_version = req.current_version;
  agent.state = shown_state;
  agent.security_floor = std::max(agent.security_floor, req.security_floor);
  if (changed || record_time) {
    agent.last_checkin_at = s.now();
    if (auto u = tx.update_agent_checkin(agent); !u) return u.error();
  }
  auto releases = tx.list_releases();
  if (!releases) return releases.error();
  if (auto n = note_running_version(tx, agent, *releases, s.now()); !n) return n.error();
  auto policies = tx.list_policies();
  if (!policies) return policies.error();
  const Resolved pol = resolve_policy(agent, *policies);
  const Targets t = channel_targets(*releases, agent.os, agent.arch);
  std::optional<Release> target = t.beta;
  bool held = false;  // a stable rollout in waves has not let this agent in yet
  if (pol.channel != "beta") {
    auto stable = wave_rollouts::stable_target(tx, agent, pol, t, *releases);
    if (!stable) return stable.error();
    target = std::move(stable->target);
    held = stable->held;
  }
  if (pol.window_start && pol.window_end) {
    answer.maintenance_window =
        protocol::MaintenanceWindow{*pol.window_start, *pol.window_end, "UTC"};
  }
  if (!target || target->key.version == agent.current_version) return out;
  auto have = SemVer::parse(agent.current_version);
  auto want = SemVer::parse(target->key.version);
  if (!have || !want) return out;
  const auto action = *want > *have ? DirectiveAction::install : DirectiveAction::downgrade;
  // Waiting for its wave never moves an agent down (it may run the release already).
  if (held && action == DirectiveAction::downgrade) return out;
  if (action == DirectiveAction::install && !in_window(pol, utc_minute_of_day(s.now()))) return out;
  if (action == DirectiveAction::downgrade && target->security_version < agent.security_floor) {
    out.below_floor = target->key.version;  // logged after the transaction, not through it
    return out;
  }
  auto d = directive_for(s, tx, agent, *target, action, pol.channel);
  if (!d) return d.error();
  out.directive = *d;
  return out;
}

http::Response answer_of(const CheckinDecision& d, std::optional<std::uint32_t> held_s) {
  protocol::CheckinResponse answer = d.answer;
  if (d.directive) {
    bj::error_code ec;
    auto v = bj::parse(*d.directive, ec);
    if (!ec && v.is_object()) answer.directive = v.as_object();
  }
  auto r = http::json_response(200, answer.to_json());
  if (held_s) r.set_header("Preference-Applied", "wait=" + std::to_string(*held_s));
  return r;
}

}  // namespace

Expected<std::optional<http::Response>> decide_held_checkin(AppState& s, Tx& tx,
                                                            const HeldCheckins::Entry& e) {
  auto d = decide_checkin(s, tx, e.agent_id, e.request);
  if (!d) return d.error();
  if (!d->directive) return std::optional<http::Response>();
  return std::optional<http::Response>(answer_of(*d, e.wait_s));
}

// A check-in that asks to be held (Prefer: wait=N) and gets nothing now is held up to
// min(N, long_poll.limit) (long_poll.hpp); its answer then, or at once when it gets a
// directive, says Preference-Applied: wait=M. Without the header, with long-poll off, on the
// plugin host, or with max_held held already, it is answered at once without Preference-Applied.
http::Response checkin(AppState& s, Ctx& c) {
  auto req = protocol::CheckinRequest::parse(c.req.body);
  if (!req) return bad_request(req.error().code, req.error().message);
  if (req->agent_id != c.agent->id)
    return http::error_response(403, "forbidden", "agent_id does not match the token");
  s.metrics.checkins++;
  std::optional<std::uint32_t> wait;
  if (s.held && c.req.can_defer) {
    if (auto prefer = c.req.header("Prefer")) {
      const auto limit = std::chrono::duration_cast<std::chrono::seconds>(s.cfg.long_poll_limit);
      if (auto w = protocol::parse_wait_preference(*prefer); w && limit.count() > 0)
        wait = std::min<std::uint32_t>(*w, static_cast<std::uint32_t>(limit.count()));
    }
  }
  // Read before deciding: a change committed from now on makes a held check-in decide again.
  const std::uint64_t epoch = s.held ? s.held->epoch() : 0;
  CheckinDecision d;
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      auto got = decide_checkin(s, tx, c.agent->id, *req);  // a retried attempt decides afresh
      if (!got) return got.error();
      d = std::move(*got);
      return {};
    });
  });
  if (!st) return internal_error(st.error());
  if (d.below_floor) {
    s.log("warn", "agent-api", "no downgrade below the agent's security floor",
          {{"agent_id", c.agent->id}, {"target", *d.below_floor}});
  }
  if (wait && !d.directive) {
    auto reply = s.held->hold(HeldCheckins::Entry{c.agent->id, *req, *wait, nullptr, epoch},
                              std::chrono::seconds(*wait), answer_of(d, wait));
    if (reply) {
      http::Response r;
      r.deferred = std::move(reply);
      return r;
    }
    wait.reset();  // max_held held already: answered now, and the agent polls
  }
  return answer_of(d, wait);
}

namespace {

void count_refusal(Metrics& m, const std::string& reason) {
  (reason == "other_platform"    ? m.refused_other_platform
   : reason == "unknown_release" ? m.refused_unknown_release
                                 : m.refused_not_offered)++;
}

}  // namespace

// A batch is judged whole: if any new report in it may not count, nothing of it is stored and
// the answer (422 report_refused) lists each refused report with its reason, so the agent drops
// exactly those and sends the rest again. Replays of stored ids are acknowledged unjudged (they
// were judged when first stored) and cost nothing against the hourly cap.
http::Response reports(AppState& s, Ctx& c) {
  auto batch = protocol::ReportBatch::parse(c.req.body);
  if (!batch) return bad_request(batch.error().code, batch.error().message);
  std::vector<Attempt> attempts;
  for (const auto& r : batch->reports) {
    if (r.agent_id != c.agent->id) {
      s.metrics.auth_failures++;
      s.log("warn", "agent-api", "report for another agent refused",
            {{"agent_id", c.agent->id}, {"claimed", r.agent_id}});
      return http::error_response(403, "forbidden", "a report names another agent");
    }
    Attempt a;
    a.id = r.id;
    a.agent_id = r.agent_id;
    a.release = {r.version, r.os, r.arch};
    a.from_version = r.from_version.value_or("");
    a.outcome = r.outcome;
    a.stage = r.stage.value_or("");
    a.error_code = r.error_code.value_or("");
    a.message = r.message.value_or("");
    a.exit_code = r.exit_code;
    a.signal = r.signal;
    a.stderr_tail = r.stderr_tail.value_or("");
    a.occurred_at = r.occurred_at;
    a.received_at = s.now();
    attempts.push_back(std::move(a));
  }
  const std::int64_t now = s.now();
  const std::uint64_t cap = s.cfg.reports_per_agent_per_hour;
  std::vector<ReportRefusal> refused;
  std::vector<const Attempt*> fresh;
  std::optional<std::int64_t> retry_after;
  std::vector<std::string> stored;
  // One transaction: two batches of one agent cannot both pass the cap, and a directive or
  // check-in cannot slip between the checks and the insert.
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      refused.clear();  // a retried attempt decides afresh
      fresh.clear();
      retry_after.reset();
      stored.clear();
      for (const auto& a : attempts) {
        auto replay = tx.has_attempt(a.id);
        if (!replay) return replay.error();
        if (*replay) continue;
        auto why = check_report(tx, *c.agent, a);
        if (!why) return why.error();
        if (*why) {
          refused.push_back(std::move(**why));
        } else {
          fresh.push_back(&a);
        }
      }
      if (!refused.empty()) return {};
      if (!fresh.empty()) {
        // The rolling hour: rows received in (now - 3600, now].
        auto w = tx.agent_attempt_window(c.agent->id, now - 3599);
        if (!w) return w.error();
        if (w->count + fresh.size() > cap) {
          retry_after = std::max<std::int64_t>(1, w->oldest_received_at + 3600 - now);
          return {};
        }
      }
      auto ids = tx.record_attempts(attempts);
      if (!ids) return ids.error();
      stored = std::move(ids).value();
      return {};
    });
  });
  if (!st) return internal_error(st.error());
  if (!refused.empty()) {
    protocol::ReportRefusal answer;
    for (const auto& r : refused) {
      count_refusal(s.metrics, r.reason);
      answer.refused.push_back({r.id, r.reason, r.message});
    }
    answer.message = std::to_string(refused.size()) +
                     " report(s) may not count and nothing of this batch was stored: " +
                     refused.front().message +
                     "; drop the refused reports and send the others again";
    s.log("warn", "agent-api",
          std::to_string(refused.size()) + " of " + std::to_string(attempts.size()) +
              " reports refused, nothing stored: " + refused.front().message,
          {{"agent_id", c.agent->id}, {"reason", refused.front().reason}});
    return http::json_response(422, answer.to_json());
  }
  if (retry_after) {
    s.metrics.refused_rate_limited += fresh.size();
    s.log("warn", "agent-api", "reports refused: hourly cap reached",
          {{"agent_id", c.agent->id}, {"cap", std::to_string(cap)}});
    auto r = http::error_response(
        429, "rate_limited",
        "this agent may add " + std::to_string(cap) +
            " reports per hour (reports_per_agent_per_hour) and this batch of " +
            std::to_string(fresh.size()) + " new reports would pass it; nothing was stored, " +
            "retry after " + std::to_string(*retry_after) + " s");
    r.set_header("Retry-After", std::to_string(*retry_after));
    return r;
  }
  // The gate judges the rollouts these reports are about at once (the timer would, later).
  std::set<ReleaseKey> touched;
  for (const Attempt* p : fresh) touched.insert(p->release);
  if (!touched.empty()) {
    if (auto n = wave_rollouts::evaluate(s, touched); !n) {
      s.log("error", "waves",
            "evaluating the rollouts after a report failed: " + n.error().message);
    }
  }
  for (const Attempt* p : fresh) {
    const Attempt& a = *p;
    (a.outcome == "success" ? s.metrics.reports_success
     : a.outcome == "crash" ? s.metrics.reports_crash
                            : s.metrics.reports_failure)++;
    if (a.outcome != "success") {
      s.log(a.outcome == "crash" ? "error" : "warn", "update",
            "update " + a.outcome + " on " + a.release.version + ": " +
                (a.message.empty() ? a.error_code : a.message),
            {{"agent_id", a.agent_id},
             {"version", a.release.version},
             {"stage", a.stage},
             {"error_code", a.error_code}});
    }
  }
  return http::json_response(200, protocol::ReportAck{stored}.to_json());
}

http::Response artifact(AppState& s, Ctx& c) {
  const std::string sha = c.params["sha256"];
  if (sha.size() != 64 || sha.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return bad_request("invalid_argument", "artifact id must be 64 lower-case hex digits");
  }
  auto rel = s.store->find_release_by_sha256(sha);
  if (!rel) return internal_error(rel.error());
  if (!*rel) return http::error_response(404, "not_found", "no artifact " + sha);
  const std::uint64_t size = (*rel)->size;
  http::Response r;
  r.set_header("ETag", "\"" + sha + "\"");
  r.set_header("Accept-Ranges", "bytes");
  r.set_header("Content-Type", "application/octet-stream");
  if (auto inm = c.req.header("If-None-Match"); inm && *inm == "\"" + sha + "\"") {
    r.status = 304;
    return r;
  }
  std::uint64_t from = 0, to = size - 1;
  if (auto range = c.req.header("Range")) {
    std::string v(*range);
    const auto dash = v.find('-');
    bool ok = v.rfind("bytes=", 0) == 0 && dash != std::string::npos && dash > 6 && dash - 6 <= 19;
    if (ok) {
      const std::string a = v.substr(6, dash - 6), b = v.substr(dash + 1);
      ok = a.find_first_not_of("0123456789") == std::string::npos &&
           b.find_first_not_of("0123456789") == std::string::npos && b.size() <= 19;
      if (ok) {
        from = std::stoull(a);
        if (!b.empty()) to = std::min<std::uint64_t>(std::stoull(b), size - 1);
      }
    }
    if (!ok || from >= size || from > to) {
      r = http::error_response(416, "range_not_satisfiable",
                               "range " + v.substr(0, 40) + " is outside the artifact");
      r.set_header("Content-Range", "bytes */" + std::to_string(size));
      return r;
    }
    r.status = 206;
    r.set_header("Content-Range", "bytes " + std::to_string(from) + "-" + std::to_string(to) + "/" +
                                      std::to_string(size));
  }
  // The release row says the artifact exists; the artifact store has its bytes (a file here, or
  // the database whichever server published it).
  if (auto st = s.artifacts->attach(sha, from, to - from + 1, r); !st) {
    if (st.error().code == "not_found" || st.error().code == "invalid_argument")
      return http::error_response(404, "not_found", "artifact " + sha + " is not stored");
    return internal_error(st.error());
  }
  return r;
}

}  // namespace rollout::server::handlers
