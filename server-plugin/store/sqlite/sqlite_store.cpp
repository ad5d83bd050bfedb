// Opening and transactions.
#include "server-plugin/store/sqlite/sqlite_store.hpp"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "server-plugin/store/sqlite/migrations.hpp"

namespace rollout::server {

namespace sqlite {

namespace {

// Converting a fresh file to WAL needs the file to itself, and SQLite answers "database is
// locked" at once when another connection (a second server starting, a test's threads) has it
// open at that moment: it does not run the busy handler for this. WAL is a property of the file,
// so a file already in WAL needs nothing; otherwise retry for as long as busy_timeout would wait.
Status use_wal(Db& db) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    auto mode = db.prepare("PRAGMA journal_mode=WAL");
    if (mode && mode->step() && mode->text(0) == "wal") return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      const Status st = mode ? mode->status() : Status(mode.error());
      return make_error("storage",
                        "could not switch to WAL: " + (st ? "refused" : st.error().message));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace

Expected<std::unique_ptr<Store>> SqliteStore::open(const std::string& path) {
  if (path.empty()) return make_error("invalid_config", "database_url: sqlite: needs a file path");
  auto db = Db::open(path);
  if (!db) return db.error();
  // WAL lets readers run beside the writer; synchronous=FULL makes every COMMIT durable before it
  // returns, which is what lets the server acknowledge a report.
  if (auto st = db->exec("PRAGMA busy_timeout=10000; PRAGMA synchronous=FULL;"
                         "PRAGMA foreign_keys=ON;");
      !st) {
    return st.error().context("database " + path);
  }
  if (auto st = use_wal(*db); !st) return st.error().context("database " + path);
  auto version = migrate(*db);
  if (!version) return version.error();
  return std::unique_ptr<Store>(new SqliteStore(std::move(db.value()), *version));
}

Status SqliteStore::run_transaction(const std::function<Status(Tx&)>& fn) {
  return ops_.transaction([&] { return fn(ops_); });
}

Status SqliteStore::run_autocommit(const std::function<Status(StoreOps&)>& fn) {
  return fn(ops_);  // each call takes the connection's lock itself
}

Status SqliteStore::watch_targets(std::function<void()> fn) {
  ops_.watch_targets(std::move(fn));
  return {};
}

void SqliteOps::watch_targets(std::function<void()> fn) {
  std::lock_guard lock(watch_mu_);
  watcher_ = std::move(fn);
}

Status SqliteOps::transaction(const std::function<Status()>& fn) {
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    if (in_tx_ > 0) return fn();
    if (auto st = db_.exec("BEGIN IMMEDIATE"); !st) return st;
    targets_changed_ = false;
    ++in_tx_;
    Status result = [&]() -> Status {
      try {
        return fn();
      } catch (...) {
        return make_error("internal", "transaction body threw");
      }
    }();
    --in_tx_;
    if (!result) {
      targets_changed_ = false;
      (void)db_.exec("ROLLBACK");
      return result;
    }
    if (auto st = db_.exec("COMMIT"); !st) {
      targets_changed_ = false;
      (void)db_.exec("ROLLBACK");
      return st;
    }
    changed = std::exchange(targets_changed_, false);
  }
  if (changed) {
    std::lock_guard lock(watch_mu_);
    if (watcher_) watcher_();
  }
  return {};
}

}  // namespace sqlite
}  // namespace rollout::server
