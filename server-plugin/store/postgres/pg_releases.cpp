// Releases, the promotion bookkeeping, and rollouts in waves (the conditional update every
// decision goes through).
#include "server-plugin/store/postgres/pg_store.hpp"
#include "server-plugin/store/postgres/pg_store_rows.hpp"

namespace rollout::server::pg {
namespace {

#define RELEASE_COLUMNS                                                                \
  "version, os, arch, product, size, sha256, security_version, manifest, created_at, " \
  "published_by, promoted_at, promotion_seq, blocked, blocked_reason"

Release read_release(Row& r) {
  Release x;
  x.key = {r.s(0), r.s(1), r.s(2)};
  x.product = r.s(3);
  x.size = r.u(4);
  x.sha256 = r.s(5);
  x.security_version = r.u(6);
  x.manifest = r.s(7);
  x.created_at = r.i(8);
  x.published_by = r.s(9);
  x.promoted_at = r.oi(10);
  x.promotion_seq = r.u(11);
  x.blocked = r.b(12);
  x.blocked_reason = r.s(13);
  return x;
}

#define ROLLOUT_COLUMNS                                                                       \
  "version, os, arch, previous_version, plan, thresholds, memory, state, rule, reason, rev, " \
  "started_at, updated_at, group_key"

RolloutRecord read_rollout(Row& r) {
  RolloutRecord x;
  x.key = {r.s(0), r.s(1), r.s(2)};
  x.previous_version = r.s(3);
  x.plan_json = r.s(4);
  x.thresholds_json = r.s(5);
  x.memory_json = r.s(6);
  x.state = r.s(7);
  x.rule = r.s(8);
  x.reason = r.s(9);
  x.rev = r.u(10);
  x.started_at = r.i(11);
  x.updated_at = r.i(12);
  x.group = r.s(13);
  return x;
}

std::string release_name(const ReleaseKey& k) {
  return k.version + " " + k.os + "/" + k.arch;
}

}  // namespace

Status PgOps::insert_release(const Release& r) {
  Params p(r.key.version, r.key.os, r.key.arch, r.product, i64(r.size), r.sha256);
  p.add(i64(r.security_version)).add(r.manifest).add(r.created_at).add(r.published_by);
  p.add(r.promoted_at).add(i64(r.promotion_seq)).add(r.blocked).add(r.blocked_reason);
  return atomic([&]() -> Status {
    auto res = q("insert_release",
                 "INSERT INTO releases (" RELEASE_COLUMNS
                 ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
                 p);
    if (res) return notify_targets();
    // Only the (version, os, arch) key is a duplicate; another constraint failing is a real
    // error.
    if (res.error().code == "unique_violation" &&
        res.error().message.find("releases_pkey") != std::string::npos) {
      return make_error("duplicate_release",
                        "release " + release_name(r.key) + " is already published");
    }
    Error e = res.error();
    if (e.code == "unique_violation") e.code = "constraint";
    return e;
  });
}

Expected<std::vector<Release>> PgOps::list_releases() {
  auto r = q("list_releases", "SELECT " RELEASE_COLUMNS " FROM releases");
  if (!r) return r.error();
  return rows<Release>(*r, read_release);
}

Expected<std::optional<Release>> PgOps::get_release(const ReleaseKey& key) {
  auto r =
      q("get_release",
        "SELECT " RELEASE_COLUMNS " FROM releases WHERE version = $1 AND os = $2 AND arch = $3",
        Params(key.version, key.os, key.arch));
  if (!r) return r.error();
  return first_row<Release>(*r, read_release);
}

Expected<std::optional<Release>> PgOps::find_release_by_sha256(const std::string& sha256) {
  auto r = q("find_release_by_sha256",
             "SELECT " RELEASE_COLUMNS " FROM releases WHERE sha256 = $1 LIMIT 1", Params(sha256));
  if (!r) return r.error();
  return first_row<Release>(*r, read_release);
}

Status PgOps::set_promoted(const ReleaseKey& key, std::int64_t at, std::uint64_t seq) {
  return atomic([&]() -> Status {
    auto r = q("set_promoted",
               "UPDATE releases SET promoted_at = $1, promotion_seq = $2 "
               "WHERE version = $3 AND os = $4 AND arch = $5",
               Params(at, i64(seq), key.version, key.os, key.arch));
    if (!r) {
      Error e = r.error();
      if (e.code == "unique_violation") e.code = "constraint";
      return e;
    }
    if (r->affected() != 1) return make_error("not_found", "no release " + key.version);
    return notify_targets();
  });
}

Status PgOps::set_blocked(const ReleaseKey& key, const std::string& reason) {
  return atomic([&]() -> Status {
    auto r = q("set_blocked",
               "UPDATE releases SET blocked = true, blocked_reason = $1 "
               "WHERE version = $2 AND os = $3 AND arch = $4",
               Params(reason, key.version, key.os, key.arch));
    if (!r) return r.error();
    if (r->affected() != 1) return make_error("not_found", "no release " + key.version);
    return notify_targets();
  });
}

Expected<std::uint64_t> PgOps::next_promotion_seq() {
  // One statement: two servers promoting at once each get their own; the row lock it takes
  // makes the second wait for the first's commit (or rollback, which gives the value back).
  auto r = q("next_promotion_seq",
             "UPDATE counters SET value = value + 1 WHERE name = 'promotion_seq' RETURNING value");
  if (!r) return r.error();
  if (r->rows() == 0)
    return make_error("storage", "database: the promotion_seq counter is missing");
  auto v = r->i64(0, 0);
  if (!v) return v.error();
  return static_cast<std::uint64_t>(*v);
}

Status PgOps::lock_release(const ReleaseKey& key) {
  auto r = q("lock_release",
             "SELECT 1 FROM releases WHERE version = $1 AND os = $2 AND arch = $3 FOR UPDATE",
             Params(key.version, key.os, key.arch));
  if (!r) return r.error();
  if (r->rows() == 0) return make_error("not_found", "no release " + release_name(key));
  return {};
}

Status PgOps::insert_rollout(const RolloutRecord& r) {
  Params p(r.key.version, r.key.os, r.key.arch, r.previous_version, r.plan_json, r.thresholds_json,
           r.memory_json, r.state, r.rule, r.reason);
  p.add(i64(r.rev)).add(r.started_at).add(r.updated_at).add(r.group);
  return atomic([&]() -> Status {
    auto res = q("insert_rollout",
                 "INSERT INTO rollouts (" ROLLOUT_COLUMNS
                 ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
                 p);
    if (res) return notify_targets();
    if (res.error().code == "unique_violation") {
      return make_error("duplicate_rollout", "release " + release_name(r.key) +
                                                 " already has a rollout for group " + r.group);
    }
    return res.error();
  });
}

Expected<std::optional<RolloutRecord>> PgOps::get_rollout(const ReleaseKey& key,
                                                          const std::string& group) {
  auto r = q("get_rollout",
             "SELECT " ROLLOUT_COLUMNS
             " FROM rollouts WHERE version = $1 AND os = $2 AND arch = $3 AND group_key = $4",
             Params(key.version, key.os, key.arch, group));
  if (!r) return r.error();
  return first_row<RolloutRecord>(*r, read_rollout);
}

Expected<std::vector<RolloutRecord>> PgOps::list_rollouts(const ReleaseKey& key) {
  // COLLATE "C": byte order, as SQLite compares text, whatever the database's locale.
  auto r = q("list_rollouts",
             "SELECT " ROLLOUT_COLUMNS
             " FROM rollouts WHERE version = $1 AND os = $2 AND arch = $3 "
             "ORDER BY group_key <> 'default', group_key COLLATE \"C\"",
             Params(key.version, key.os, key.arch));
  if (!r) return r.error();
  return rows<RolloutRecord>(*r, read_rollout);
}

Expected<std::vector<RolloutRecord>> PgOps::list_rollout_records() {
  auto r = q("list_rollout_records",
             "SELECT " ROLLOUT_COLUMNS
             " FROM rollouts ORDER BY started_at, version COLLATE \"C\", os COLLATE \"C\", "
             "arch COLLATE \"C\", group_key <> 'default', group_key COLLATE \"C\"");
  if (!r) return r.error();
  return rows<RolloutRecord>(*r, read_rollout);
}

Expected<bool> PgOps::update_rollout(const RolloutRecord& r, std::uint64_t expected_rev) {
  if (r.rev != expected_rev + 1) {
    return make_error("invalid_argument", "update_rollout: rev must be expected_rev + 1");
  }
  Params p(r.previous_version, r.plan_json, r.thresholds_json, r.memory_json, r.state, r.rule,
           r.reason);
  p.add(i64(r.rev)).add(r.updated_at).add(r.key.version).add(r.key.os).add(r.key.arch);
  p.add(r.group).add(i64(expected_rev));
  bool wrote = false;
  auto st = atomic([&]() -> Status {
    auto res = q("update_rollout",
                 "UPDATE rollouts SET previous_version = $1, plan = $2, thresholds = $3, "
                 "memory = $4, state = $5, rule = $6, reason = $7, rev = $8, updated_at = $9 "
                 "WHERE version = $10 AND os = $11 AND arch = $12 AND group_key = $13 AND "
                 "rev = $14",
                 p);
    if (!res) return res.error();
    wrote = res->affected() == 1;
    return wrote ? notify_targets() : Status{};
  });
  if (!st) return st.error();
  return wrote;
}

Expected<std::vector<AgentOutcome>> PgOps::latest_outcomes(const ReleaseKey& key) {
  auto r = q("latest_outcomes",
             "SELECT agent_id, outcome FROM latest_attempts "
             "WHERE version = $1 AND os = $2 AND arch = $3",
             Params(key.version, key.os, key.arch));
  if (!r) return r.error();
  return rows<AgentOutcome>(*r, [](Row& x) { return AgentOutcome{x.s(0), x.s(1)}; });
}

}  // namespace rollout::server::pg
