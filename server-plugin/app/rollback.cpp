#include "server-plugin/app/rollback.hpp"

#include "server-plugin/app/targets.hpp"
#include "server-plugin/app/views.hpp"

namespace rollout::server {

namespace bj = boost::json;

Expected<RollbackResult> roll_back(AppState& s, Tx& tx, const RollbackRequest& req) {
  const ReleaseKey& key = req.key;
  RollbackResult out;
  if (auto locked = tx.lock_release(key); !locked && locked.error().code != "not_found")
    return locked.error();
  auto rel = tx.get_release(key);
  if (!rel) return rel.error();
  if (!*rel) {
    out.kind = RollbackResult::Kind::not_found;
    out.message = "no release " + key.version + " " + key.os + "/" + key.arch;
    return out;
  }
  if ((*rel)->blocked) {
    out.kind = RollbackResult::Kind::already_blocked;
    out.message = "release " + key.version + " is already rolled back";
    return out;
  }
  auto releases = tx.list_releases();
  if (!releases) return releases.error();
  for (auto& x : *releases) {
    if (x.key == key) x.blocked = true;
  }
  const Targets after = channel_targets(*releases, key.os, key.arch);
  if (!after.stable) {
    out.kind = RollbackResult::Kind::no_fallback;
    out.message = "no previous stable release of " + key.os + "/" + key.arch +
                  " to fall back to; publish and promote a fixed version instead";
    return out;
  }
  std::string health = req.health_json;
  if (health.empty()) {
    auto counts = tx.release_counts(std::nullopt);
    if (!counts) return counts.error();
    auto it = counts->find(key);
    health = bj::serialize(health_json(
        evaluate(it == counts->end() ? Counts{} : it->second, false, s.cfg.thresholds)));
  }
  auto agents = tx.list_agents();
  if (!agents) return agents.error();
  std::uint64_t on_it = 0;
  for (const auto& a : *agents) {
    if (a.current_version == key.version && a.os == key.os && a.arch == key.arch) ++on_it;
  }
  if (auto b = tx.set_blocked(key, req.reason); !b) return b.error();
  // A rollout of it in progress ends here, every group of it (the gate's own rollback has
  // marked its group already).
  auto rows = tx.list_rollouts(key);
  if (!rows) return rows.error();
  for (const auto& ro : *rows) {
    if (ro.state == "rolled_back") continue;
    RolloutRecord r = ro;
    r.state = "rolled_back";
    r.rule = req.rule;
    r.reason = req.reason;
    r.rev = ro.rev + 1;
    r.updated_at = s.now();
    auto won = tx.update_rollout(r, ro.rev);
    if (!won) return won.error();
    // Inside this transaction nobody else can have changed it since the read.
    if (!*won) return make_error("conflict", "the rollout changed during the rollback");
  }
  bj::object detail{{"fallback_version", after.stable->key.version}, {"downgraded_agents", on_it}};
  for (const auto& [k, v] : req.extra_detail) detail[k] = v;
  Event e{0,        s.now(),    req.actor, "rollback", key.version,          key.os,
          key.arch, req.reason, false,     health,     bj::serialize(detail)};
  if (auto a = audit(s, tx, e); !a) return a.error();
  out.fallback_version = after.stable->key.version;
  out.downgraded_agents = on_it;
  return out;
}

std::optional<http::Response> refusal_response(const RollbackResult& r) {
  switch (r.kind) {
    case RollbackResult::Kind::not_found:
      return http::error_response(404, "not_found", r.message);
    case RollbackResult::Kind::already_blocked:
      return http::error_response(409, "already_blocked", r.message);
    case RollbackResult::Kind::no_fallback:
      return http::error_response(409, "no_fallback_version", r.message);
    case RollbackResult::Kind::done:
      break;
  }
  return std::nullopt;
}

}  // namespace rollout::server
