// The Updates table and its actions: list, publish, promote, rollback, row detail, audit trail.
#include <algorithm>
#include <boost/json.hpp>

#include "common/encoding.hpp"
#include "common/json.hpp"
#include "common/release.hpp"
#include "common/semver.hpp"
#include "common/time.hpp"
#include "server-plugin/app/handlers.hpp"
#include "server-plugin/app/rollback.hpp"
#include "server-plugin/app/targets.hpp"
#include "server-plugin/app/views.hpp"
#include "server-plugin/app/wave_rollouts.hpp"

namespace rollout::server::handlers {
namespace {

namespace bj = boost::json;

Health health_of(AppState& s, const Release& r, const CountsByRelease& counts) {
  auto it = counts.find(r.key);
  return evaluate(it == counts.end() ? Counts{} : it->second, r.blocked, s.cfg.thresholds);
}

// Reads {os, arch} from a body and the {version} path parameter as a release key.
std::optional<ReleaseKey> key_from(const Ctx& c, json::Reader& r) {
  ReleaseKey k{c.params.at("version"), r.string("os", 16), r.string("arch", 16)};
  if (!SemVer::parse(k.version)) {
    r.fail("version", "must be a SemVer version like 1.4.2");
    return std::nullopt;
  }
  if (r.ok() && !valid_os(k.os)) r.fail("os", "must be linux or windows");
  if (r.ok() && !valid_arch(k.arch)) r.fail("arch", "must be x86_64 or aarch64");
  if (!r.ok()) return std::nullopt;
  return k;
}

std::string user_of(const Ctx& c) {
  return c.user ? c.user->user : "?";
}

}  // namespace

http::Response list_rollouts(AppState& s, Ctx&) {
  auto releases = s.store->list_releases();
  auto counts = s.store->release_counts(std::nullopt);
  // The last 24 h from the start of a minute: every refresh within that minute asks the same
  // question, which the store answers from its cache until a report arrives.
  auto recent = s.store->release_counts((s.now() - 86400) / 60 * 60);
  auto groups = s.store->agent_population();
  auto policies = s.store->list_policies();
  if (auto failed = first_failure(releases, counts, recent, groups, policies))
    return internal_error(*failed);
  // Agents currently on each release, by channel.
  std::map<std::pair<ReleaseKey, std::string>, std::uint64_t> on;
  for (const auto& g : *groups) {
    Agent a;
    a.id = g.agent_id;
    a.client = g.client;
    a.site = g.site;
    a.channel_hint = g.channel_hint;
    on[{ReleaseKey{g.version, g.os, g.arch}, resolve_policy(a, *policies).channel}] += g.count;
  }
  std::vector<const Release*> sorted;
  for (const auto& r : *releases) sorted.push_back(&r);
  std::sort(sorted.begin(), sorted.end(), [](const Release* a, const Release* b) {
    auto va = SemVer::parse(a->key.version), vb = SemVer::parse(b->key.version);
    if (va && vb && *va != *vb) return *va > *vb;
    return std::tie(a->key.os, a->key.arch) < std::tie(b->key.os, b->key.arch);
  });
  // Rollouts in waves: what each one in progress has let in so far, counted per wave (the agents
  // are loaded only while one is in progress); a finished one shows its end state only.
  auto progress = wave_rollouts::table_view(s, *releases, *policies);
  if (!progress) return internal_error(progress.error());
  const std::int64_t now = s.now();
  const auto stale_after =
      std::chrono::duration_cast<std::chrono::seconds>(s.cfg.stale_stable_after).count();
  bj::array rows;
  for (const Release* r : sorted) {
    const Health h = health_of(s, *r, *counts);
    const bool is_beta = r->promotion_seq == 0;
    const auto check =
        promote_check(h, is_beta, std::chrono::seconds(now - r->created_at), s.cfg.thresholds);
    const Targets t = channel_targets(*releases, r->key.os, r->key.arch);
    // Stable is stale when a newer beta has waited longer than the configured time.
    bool stale = false;
    if (is_beta && !r->blocked && t.beta && t.beta->key == r->key &&
        now - r->created_at > stale_after)
      stale = true;
    bj::array blockers;
    for (const auto& b : check.blockers)
      blockers.push_back(bj::object{{"code", b.code}, {"message", b.message}});
    bj::object row{{"version", r->key.version},
                   {"os", r->key.os},
                   {"arch", r->key.arch},
                   {"channel", is_beta ? "beta" : "stable"},
                   {"security_version", r->security_version},
                   {"sha256", r->sha256},
                   {"size", r->size},
                   {"created_at", format_rfc3339(SysTime(std::chrono::seconds(r->created_at)))},
                   {"blocked", r->blocked},
                   {"blocked_reason", r->blocked_reason},
                   {"health", health_json(h)},
                   {"health_24h", health_json(health_of(s, *r, *recent))},
                   {"beta_agents", on[{r->key, "beta"}]},
                   {"stable_agents", on[{r->key, "stable"}]},
                   {"can_promote", check.allowed},
                   {"needs_force", !check.allowed && check.can_force},
                   {"promote_blockers", std::move(blockers)},
                   {"can_rollback", !r->blocked},
                   {"is_stable_target", t.stable && t.stable->key == r->key},
                   {"stale_stable", stale}};
    row["promoted_at"] =
        r->promoted_at ? bj::value(format_rfc3339(SysTime(std::chrono::seconds(*r->promoted_at))))
                       : bj::value(nullptr);
    if (auto p = progress->find(r->key); p != progress->end()) {
      row["waves"] = std::move(p->second);
    } else {
      row["waves"] = nullptr;
    }
    rows.push_back(std::move(row));
  }
  return json_ok(bj::object{{"rollouts", std::move(rows)}, {"stale_stable_after_s", stale_after}});
}

namespace {

// The manifest of a streamed publish: base64 of the signed envelope's JSON, in a header so that
// it is verified before any of the artifact is read.
constexpr std::string_view kManifestHeader = "X-Rollout-Manifest";

struct VerifiedUpload {
  Envelope envelope;
  ReleaseManifest manifest;
};

// Decodes and verifies a manifest envelope; on failure sets `answer` to the 400 to send.
std::optional<VerifiedUpload> verified(AppState& s, const Ctx& c, Expected<Envelope> env,
                                       http::Response& answer) {
  if (!env) {
    answer = bad_request(env.error().code, env.error().message);
    return std::nullopt;
  }
  auto release = verify_release(*env, s.release_keys);
  if (!release) {
    s.log("warn", "rollout", "publish refused: " + release.error().message, {{"user", user_of(c)}});
    answer = bad_request(release.error().code,
                         "the manifest does not verify: " + release.error().message);
    return std::nullopt;
  }
  return VerifiedUpload{std::move(env.value()), std::move(release->manifest)};
}

std::optional<VerifiedUpload> header_manifest(AppState& s, const Ctx& c, http::Response& answer) {
  const auto text = encoding::unbase64(*c.req.header(kManifestHeader));
  if (!text || text->size() > kMaxEnvelopeBytes) {
    answer = bad_request("invalid_manifest", std::string(kManifestHeader) +
                                                 " must be the base64 of the signed manifest");
    return std::nullopt;
  }
  return verified(s, c, parse_envelope(*text), answer);
}

// Stores the artifact through `upload` and answers the failure, if any: 400 when the bytes are
// not the signed ones, 500 with the cause when the disk or database failed.
std::optional<http::Response> store_artifact(artifacts::Upload& upload) {
  auto st = upload.commit();
  if (st) return std::nullopt;
  if (st.error().code == "artifact_mismatch")
    return bad_request(st.error().code, st.error().message);
  return internal_error(st.error());
}

}  // namespace

void admit_publish(AppState& s, const Ctx& c, http::Admission& a) {
  if (!c.req.header(kManifestHeader)) {
    // The JSON form holds the artifact in memory, so it gets the JSON cap.
    a.body_limit = static_cast<std::size_t>(s.cfg.body_limit);
    return;
  }
  http::Response answer;
  auto up = header_manifest(s, c, answer);
  if (!up) {
    a.refusal = std::move(answer);
    return;
  }
  const auto declared = c.req.header("Content-Length");
  if (!declared || *declared != std::to_string(up->manifest.size)) {
    a.refusal =
        bad_request("artifact_mismatch", "Content-Length must be the signed manifest's size, " +
                                             std::to_string(up->manifest.size) + " bytes");
    return;
  }
  if (up->manifest.size > s.cfg.upload_limit) {
    a.refusal = http::error_response(
        413, "too_large",
        "the artifact exceeds upload_limit (" + std::to_string(s.cfg.upload_limit) + " bytes)");
    return;
  }
  auto sink = s.artifacts->begin(up->manifest.sha256, up->manifest.size);
  if (!sink) {
    a.refusal = internal_error(sink.error());
    return;
  }
  a.body_limit = static_cast<std::size_t>(up->manifest.size);
  a.sink = std::move(sink.value());
}

http::Response publish(AppState& s, Ctx& c) {
  http::Response err;
  std::optional<VerifiedUpload> up;
  std::shared_ptr<artifacts::Upload> upload;
  if (c.req.header(kManifestHeader)) {
    // Streamed: the host wrote the body into the sink admit_publish() gave it, or (a host that
    // buffers bodies) it is in memory and goes through a sink now.
    up = header_manifest(s, c, err);
    if (!up) return err;
    upload = std::dynamic_pointer_cast<artifacts::Upload>(c.req.sink);
    if (!upload) {
      auto fresh = s.artifacts->begin(up->manifest.sha256, up->manifest.size);
      if (!fresh) return internal_error(fresh.error());
      upload = std::move(fresh.value());
      upload->write(c.req.body);
    }
  } else {
    auto body = json_body(c, s.cfg.body_limit, err);
    if (!body) return err;
    json::Reader r(*body, "publish");
    const auto* manifest = r.object("manifest");
    const std::string artifact_b64 = r.string("artifact", s.cfg.body_limit);
    r.no_unknown_keys();
    if (!r.ok()) return bad_request("invalid_body", r.error().message);
    up = verified(s, c, envelope_from_json(*manifest), err);
    if (!up) return err;
    auto bytes = encoding::unbase64(artifact_b64);
    if (!bytes) return bad_request("invalid_body", "publish: 'artifact' is not valid base64");
    auto fresh = s.artifacts->begin(up->manifest.sha256, up->manifest.size);
    if (!fresh) return internal_error(fresh.error());
    upload = std::move(fresh.value());
    upload->write(*bytes);
  }
  if (auto refused = store_artifact(*upload)) return *refused;
  const auto& m = up->manifest;
  const auto& env = up->envelope;
  Release row;
  row.key = {m.version.str(), m.os, m.arch};
  row.product = m.product;
  row.size = m.size;
  row.sha256 = m.sha256;
  row.security_version = m.security_version;
  row.manifest = serialize_envelope(env);
  row.created_at = s.now();
  row.published_by = user_of(c);
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      if (auto ins = tx.insert_release(row); !ins) return ins;
      Event e{0,
              s.now(),
              user_of(c),
              "publish",
              row.key.version,
              row.key.os,
              row.key.arch,
              "",
              false,
              "{}",
              bj::serialize(bj::object{{"sha256", row.sha256}, {"size", row.size}})};
      return audit(s, tx, e);
    });
  });
  if (!st) {
    if (st.error().code == "duplicate_release")
      return http::error_response(409, st.error().code, st.error().message);
    return internal_error(st.error());
  }
  s.log("info", "rollout",
        "published " + row.key.version + " " + row.key.os + "/" + row.key.arch + " to beta",
        {{"user", user_of(c)}});
  return json_ok(bj::object{{"version", row.key.version},
                            {"os", row.key.os},
                            {"arch", row.key.arch},
                            {"channel", "beta"}},
                 201);
}

http::Response promote(AppState& s, Ctx& c) {
  http::Response err;
  auto body = json_body(c, s.cfg.body_limit, err);
  if (!body) return err;
  json::Reader r(*body, "promote");
  auto key = key_from(c, r);
  const bool force = r.opt_boolean("force").value_or(false);
  const std::string reason = r.opt_string("reason", 1024).value_or("");
  r.no_unknown_keys();
  if (!key || !r.ok()) return bad_request("invalid_body", r.error().message);
  if (force && reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    return bad_request("reason_required", "a forced promotion needs a reason");
  }
  http::Response answer;
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      // The row's lock first: a rollback of it on another server decides before or after.
      if (auto l = tx.lock_release(*key); !l && l.error().code != "not_found") return l;
      auto rel = find_release(tx, *key, answer);
      if (!rel) return {};
      auto counts = tx.release_counts(std::nullopt);
      if (!counts) return counts.error();
      const Health h = health_of(s, *rel, *counts);
      const auto check =
          promote_check(h, rel->promotion_seq == 0, std::chrono::seconds(s.now() - rel->created_at),
                        s.cfg.thresholds);
      if (!check.allowed && !(force && check.can_force)) {
        bj::array reasons;
        std::string summary;
        for (const auto& b : check.blockers) {
          reasons.push_back(bj::object{{"code", b.code}, {"message", b.message}});
          summary += (summary.empty() ? "" : "; ") + b.message;
        }
        answer = json_ok(
            bj::object{{"error", check.can_force ? "health_check_failed" : "not_promotable"},
                       {"message", "promotion refused: " + summary},
                       {"reasons", std::move(reasons)},
                       {"can_force", check.can_force}},
            409);
        return {};
      }
      auto before = tx.list_releases();
      if (!before) return before.error();
      const Targets was = channel_targets(*before, key->os, key->arch);
      auto seq = tx.next_promotion_seq();
      if (!seq) return seq.error();
      if (auto p = tx.set_promoted(*key, s.now(), *seq); !p) return p;
      Event e{0,       s.now(),   user_of(c), "promote",      key->version,
              key->os, key->arch, reason,     !check.allowed, bj::serialize(health_json(h)),
              "{}"};
      if (auto a = audit(s, tx, e); !a) return a;
      // Stable agents then move in waves (unless the plan is all at once).
      const std::optional<Release> previous =
          was.stable && !(was.stable->key == *key) ? was.stable : std::nullopt;
      if (auto w = wave_rollouts::start(s, tx, *rel, previous, user_of(c), e.health_json); !w)
        return w;
      answer = json_ok(bj::object{
          {"stable_version", key->version},
          {"forced", !check.allowed},
          {"waves",
           previous && !s.cfg.waves.all_at_once() ? s.cfg.waves.cumulative_bp.size() : 1}});
      return {};
    });
  });
  if (!st) return internal_error(st.error());
  if (answer.status == 200) {
    s.log("info", "rollout", "promoted " + key->version + " to stable" + (force ? " (forced)" : ""),
          {{"user", user_of(c)}, {"reason", reason}});
  }
  return answer;
}

http::Response rollback(AppState& s, Ctx& c) {
  http::Response err;
  auto body = json_body(c, s.cfg.body_limit, err);
  if (!body) return err;
  json::Reader r(*body, "rollback");
  auto key = key_from(c, r);
  const std::string reason = r.opt_string("reason", 1024).value_or("");
  r.no_unknown_keys();
  if (!key || !r.ok()) return bad_request("invalid_body", r.error().message);
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    return bad_request("reason_required",
                       "a rollback needs a reason (it is kept in the audit trail)");
  }
  std::optional<RollbackResult> result;
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      auto done = roll_back(s, tx, RollbackRequest{*key, user_of(c), reason, "manual", "", {}});
      if (!done) return done.error();
      result = *done;
      return {};
    });
  });
  if (!st) return internal_error(st.error());
  if (auto refused = refusal_response(*result)) return *refused;
  s.log("warn", "rollout", "rolled back " + key->version + ": " + reason, {{"user", user_of(c)}});
  return json_ok(bj::object{{"downgraded_agents", result->downgraded_agents},
                            {"fallback_version", result->fallback_version}});
}

namespace {

http::Response waves_action(AppState& s, Ctx& c, wave_rollouts::Manual what, const char* name) {
  http::Response err;
  auto body = json_body(c, s.cfg.body_limit, err);
  if (!body) return err;
  json::Reader r(*body, name);
  auto key = key_from(c, r);
  const std::string reason = r.opt_string("reason", 1024).value_or("");
  const auto group = r.opt_string("group", 1024);
  r.no_unknown_keys();
  if (!key || !r.ok()) return bad_request("invalid_body", r.error().message);
  return wave_rollouts::manual(s, *key, what, user_of(c), reason, group);
}

}  // namespace

http::Response waves_pause(AppState& s, Ctx& c) {
  return waves_action(s, c, wave_rollouts::Manual::pause, "waves/pause");
}
http::Response waves_resume(AppState& s, Ctx& c) {
  return waves_action(s, c, wave_rollouts::Manual::resume, "waves/resume");
}
http::Response waves_advance(AppState& s, Ctx& c) {
  return waves_action(s, c, wave_rollouts::Manual::advance, "waves/advance");
}
http::Response waves_all(AppState& s, Ctx& c) {
  return waves_action(s, c, wave_rollouts::Manual::all, "waves/all");
}
http::Response waves_abort(AppState& s, Ctx& c) {
  return waves_action(s, c, wave_rollouts::Manual::abort, "waves/abort");
}

http::Response rollout_detail(AppState& s, Ctx& c) {
  const ReleaseKey key{c.params.at("version"), c.target.query["os"], c.target.query["arch"]};
  auto rel = s.store->get_release(key);
  if (!rel) return internal_error(rel.error());
  if (!*rel)
    return http::error_response(404, "not_found",
                                "no release " + key.version + " " + key.os + "/" + key.arch);
  auto patterns = s.store->failure_patterns(key, s.now() - 86400);
  auto events = s.store->list_events(0, 50, key);
  if (auto failed = first_failure(patterns, events)) return internal_error(*failed);
  bj::array failures;
  for (const auto& p : *patterns) {
    failures.push_back(
        bj::object{{"outcome", p.outcome},
                   {"stage", p.stage},
                   {"error_code", p.error_code},
                   {"count", p.count},
                   {"count_24h", p.count_24h},
                   {"first_seen", format_rfc3339(SysTime(std::chrono::seconds(p.first_seen)))},
                   {"last_seen", format_rfc3339(SysTime(std::chrono::seconds(p.last_seen)))},
                   {"sample_message", p.sample_message},
                   {"sample_stderr", p.sample_stderr}});
  }
  bj::array history;
  for (const auto& e : *events) history.push_back(event_json(e));
  return json_ok(bj::object{{"version", key.version},
                            {"os", key.os},
                            {"arch", key.arch},
                            {"failures", std::move(failures)},
                            {"events", std::move(history)}});
}

http::Response list_events(AppState& s, Ctx& c) {
  std::int64_t before = 0;
  std::size_t limit = 100;
  try {
    if (auto it = c.target.query.find("before"); it != c.target.query.end())
      before = std::stoll(it->second);
    if (auto it = c.target.query.find("limit"); it != c.target.query.end()) {
      limit = std::min<std::size_t>(500, std::stoul(it->second));
    }
  } catch (...) {
    return bad_request("invalid_argument", "before and limit must be numbers");
  }
  auto events = s.store->list_events(before, limit, std::nullopt);
  if (!events) return internal_error(events.error());
  bj::array out;
  for (const auto& e : *events) out.push_back(event_json(e));
  bj::value next = events->size() == limit && !events->empty() ? bj::value(events->back().id)
                                                               : bj::value(nullptr);
  return json_ok(bj::object{{"events", std::move(out)}, {"next_before", next}});
}

}  // namespace rollout::server::handlers
