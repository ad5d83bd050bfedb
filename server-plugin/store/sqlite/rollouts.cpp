// Rollouts in waves: create, read, and the conditional update every decision goes through.
#include <sqlite3.h>

#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {
namespace {

constexpr const char* kRolloutColumns =
    "version, os, arch, previous_version, plan, thresholds, memory, state, rule, reason, rev, "
    "started_at, updated_at, group_key";

RolloutRecord read_rollout(const Stmt& s) {
  RolloutRecord r;
  r.key = {s.text(0), s.text(1), s.text(2)};
  r.previous_version = s.text(3);
  r.plan_json = s.text(4);
  r.thresholds_json = s.text(5);
  r.memory_json = s.text(6);
  r.state = s.text(7);
  r.rule = s.text(8);
  r.reason = s.text(9);
  r.rev = s.u64(10);
  r.started_at = s.i64(11);
  r.updated_at = s.i64(12);
  r.group = s.text(13);
  return r;
}

}  // namespace

Expected<std::vector<AgentOutcome>> SqliteOps::latest_outcomes(const ReleaseKey& key) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT agent_id, outcome FROM latest_attempts WHERE version = ? AND os = ? AND arch = ?");
  if (!s) return s.error();
  s->bind(1, key.version).bind(2, key.os).bind(3, key.arch);
  std::vector<AgentOutcome> out;
  while (s->step()) out.push_back({s->text(0), s->text(1)});
  if (auto st = s->status(); !st) return st.error();
  return out;
}

// insert_rollout and update_rollout run through transaction() and set targets_changed_ once
// they wrote (sqlite_store.hpp).
Status SqliteOps::insert_rollout(const RolloutRecord& r) {
  return transaction([&]() -> Status {
    auto s = db_.prepare(std::string("INSERT INTO rollouts (") + kRolloutColumns +
                         ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s) return s.error();
    s->bind(1, r.key.version).bind(2, r.key.os).bind(3, r.key.arch).bind(4, r.previous_version);
    s->bind(5, r.plan_json).bind(6, r.thresholds_json).bind(7, r.memory_json).bind(8, r.state);
    s->bind(9, r.rule).bind(10, r.reason).bind(11, r.rev).bind(12, r.started_at);
    s->bind(13, r.updated_at).bind(14, r.group);
    auto st = s->run();
    if (!st && s->last_code() == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return make_error("duplicate_rollout", "release " + r.key.version + " " + r.key.os + "/" +
                                                 r.key.arch + " already has a rollout for group " +
                                                 r.group);
    }
    if (st) targets_changed_ = true;
    return st;
  });
}

Expected<std::optional<RolloutRecord>> SqliteOps::get_rollout(const ReleaseKey& key,
                                                              const std::string& group) {
  std::lock_guard lock(mu_);
  auto s =
      db_.prepare(std::string("SELECT ") + kRolloutColumns +
                  " FROM rollouts WHERE version = ? AND os = ? AND arch = ? AND group_key = ?");
  if (!s) return s.error();
  s->bind(1, key.version).bind(2, key.os).bind(3, key.arch).bind(4, group);
  if (s->step()) return std::optional<RolloutRecord>(read_rollout(*s));
  if (auto st = s->status(); !st) return st.error();
  return std::optional<RolloutRecord>();
}

Expected<std::vector<RolloutRecord>> SqliteOps::list_rollouts(const ReleaseKey& key) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kRolloutColumns +
                       " FROM rollouts WHERE version = ? AND os = ? AND arch = ? "
                       "ORDER BY group_key <> 'default', group_key");
  if (!s) return s.error();
  s->bind(1, key.version).bind(2, key.os).bind(3, key.arch);
  std::vector<RolloutRecord> out;
  while (s->step()) out.push_back(read_rollout(*s));
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Expected<std::vector<RolloutRecord>> SqliteOps::list_rollout_records() {
  std::lock_guard lock(mu_);
  auto s =
      db_.prepare(std::string("SELECT ") + kRolloutColumns +
                  " FROM rollouts ORDER BY started_at, version, os, arch, group_key <> 'default', "
                  "group_key");
  if (!s) return s.error();
  std::vector<RolloutRecord> out;
  while (s->step()) out.push_back(read_rollout(*s));
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Expected<bool> SqliteOps::update_rollout(const RolloutRecord& r, std::uint64_t expected_rev) {
  if (r.rev != expected_rev + 1) {
    return make_error("invalid_argument", "update_rollout: rev must be expected_rev + 1");
  }
  bool wrote = false;
  auto st = transaction([&]() -> Status {
    auto s = db_.prepare(
        "UPDATE rollouts SET previous_version = ?, plan = ?, thresholds = ?, memory = ?, "
        "state = ?, rule = ?, reason = ?, rev = ?, updated_at = ? "
        "WHERE version = ? AND os = ? AND arch = ? AND group_key = ? AND rev = ?");
    if (!s) return s.error();
    s->bind(1, r.previous_version).bind(2, r.plan_json).bind(3, r.thresholds_json);
    s->bind(4, r.memory_json).bind(5, r.state).bind(6, r.rule).bind(7, r.reason).bind(8, r.rev);
    s->bind(9, r.updated_at).bind(10, r.key.version).bind(11, r.key.os).bind(12, r.key.arch);
    s->bind(13, r.group).bind(14, expected_rev);
    if (auto run = s->run(); !run) return run;
    wrote = db_.changes() == 1;
    if (wrote) targets_changed_ = true;
    return {};
  });
  if (!st) return st.error();
  return wrote;
}

}  // namespace rollout::server::sqlite
