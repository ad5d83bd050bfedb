// Releases and the promotion bookkeeping.
#include <sqlite3.h>

#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {
namespace {

constexpr const char* kReleaseColumns =
    "version, os, arch, product, size, sha256, security_version, manifest, created_at, "
    "published_by, promoted_at, promotion_seq, blocked, blocked_reason";

Release read_release(const Stmt& s) {
  Release r;
  r.key = {s.text(0), s.text(1), s.text(2)};
  r.product = s.text(3);
  r.size = s.u64(4);
  r.sha256 = s.text(5);
  r.security_version = s.u64(6);
  r.manifest = s.text(7);
  r.created_at = s.i64(8);
  r.published_by = s.text(9);
  r.promoted_at = s.opt_i64(10);
  r.promotion_seq = s.u64(11);
  r.blocked = s.i64(12) != 0;
  r.blocked_reason = s.text(13);
  return r;
}

}  // namespace

// The writes that decide a check-in run through transaction() and set targets_changed_ once
// they wrote (sqlite_store.hpp).
Status SqliteOps::insert_release(const Release& r) {
  return transaction([&]() -> Status {
    auto s = db_.prepare(std::string("INSERT INTO releases (") + kReleaseColumns +
                         ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s) return s.error();
    s->bind(1, r.key.version)
        .bind(2, r.key.os)
        .bind(3, r.key.arch)
        .bind(4, r.product)
        .bind(5, r.size);
    s->bind(6, r.sha256).bind(7, r.security_version).bind(8, r.manifest).bind(9, r.created_at);
    s->bind(10, r.published_by)
        .bind(11, r.promoted_at)
        .bind(12, r.promotion_seq)
        .bind(13, r.blocked);
    s->bind(14, r.blocked_reason);
    auto st = s->run();
    // Only the (version, os, arch) key is a duplicate; another constraint failing is a real
    // error.
    if (!st && s->last_code() == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return make_error("duplicate_release", "release " + r.key.version + " " + r.key.os + "/" +
                                                 r.key.arch + " is already published");
    }
    if (st) targets_changed_ = true;
    return st;
  });
}

Expected<std::vector<Release>> SqliteOps::list_releases() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kReleaseColumns + " FROM releases");
  if (!s) return s.error();
  std::vector<Release> out;
  while (s->step()) out.push_back(read_release(*s));
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Expected<std::optional<Release>> SqliteOps::get_release(const ReleaseKey& key) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kReleaseColumns +
                       " FROM releases WHERE version = ? AND os = ? AND arch = ?");
  if (!s) return s.error();
  s->bind(1, key.version).bind(2, key.os).bind(3, key.arch);
  if (s->step()) return std::optional<Release>(read_release(*s));
  if (auto st = s->status(); !st) return st.error();
  return std::optional<Release>();
}

Expected<std::optional<Release>> SqliteOps::find_release_by_sha256(const std::string& sha256) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kReleaseColumns +
                       " FROM releases WHERE sha256 = ? LIMIT 1");
  if (!s) return s.error();
  s->bind(1, sha256);
  if (s->step()) return std::optional<Release>(read_release(*s));
  if (auto st = s->status(); !st) return st.error();
  return std::optional<Release>();
}

Status SqliteOps::set_promoted(const ReleaseKey& key, std::int64_t at, std::uint64_t seq) {
  return transaction([&]() -> Status {
    auto s = db_.prepare(
        "UPDATE releases SET promoted_at = ?, promotion_seq = ? WHERE version = ? AND os = ? AND "
        "arch = ?");
    if (!s) return s.error();
    s->bind(1, at).bind(2, seq).bind(3, key.version).bind(4, key.os).bind(5, key.arch);
    if (auto st = s->run(); !st) return st;
    if (db_.changes() != 1) return make_error("not_found", "no release " + key.version);
    targets_changed_ = true;
    return {};
  });
}

Status SqliteOps::set_blocked(const ReleaseKey& key, const std::string& reason) {
  return transaction([&]() -> Status {
    auto s = db_.prepare(
        "UPDATE releases SET blocked = 1, blocked_reason = ? WHERE version = ? AND os = ? AND "
        "arch = ?");
    if (!s) return s.error();
    s->bind(1, reason).bind(2, key.version).bind(3, key.os).bind(4, key.arch);
    if (auto st = s->run(); !st) return st;
    if (db_.changes() != 1) return make_error("not_found", "no release " + key.version);
    targets_changed_ = true;
    return {};
  });
}

Expected<std::uint64_t> SqliteOps::next_promotion_seq() {
  std::lock_guard lock(mu_);
  // One statement: two servers promoting at once each get their own (migration 7).
  auto s = db_.prepare(
      "UPDATE counters SET value = value + 1 WHERE name = 'promotion_seq' RETURNING value");
  if (!s) return s.error();
  if (s->step()) return s->u64(0);
  if (auto st = s->status(); !st) return st.error();
  return make_error("storage", "database: the promotion_seq counter is missing");
}

Status SqliteOps::lock_release(const ReleaseKey& key) {
  std::lock_guard lock(mu_);
  // BEGIN IMMEDIATE holds the write lock of the whole database already: only the row's existence
  // is left to check.
  auto s = db_.prepare("SELECT 1 FROM releases WHERE version = ? AND os = ? AND arch = ?");
  if (!s) return s.error();
  s->bind(1, key.version).bind(2, key.os).bind(3, key.arch);
  if (s->step()) return {};
  if (auto st = s->status(); !st) return st;
  return make_error("not_found", "no release " + key.version + " " + key.os + "/" + key.arch);
}

}  // namespace rollout::server::sqlite
