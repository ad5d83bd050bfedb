#include "server-plugin/store/postgres/pg_pool.hpp"

#include <utility>

namespace rollout::server::pg {

Expected<std::unique_ptr<Pool>> Pool::open(PoolOptions options) {
  if (auto st = check_url(options.url); !st) return st.error();
  if (options.max_connections < 1 || options.max_connections > kMaxPoolConnections) {
    return make_error("invalid_config", "database max_connections: must be 1 to " +
                                            std::to_string(kMaxPoolConnections) + ", not " +
                                            std::to_string(options.max_connections));
  }
  if (options.acquire_timeout.count() < 0 || options.acquire_timeout > std::chrono::minutes(10)) {
    return make_error("invalid_config", "database acquire_timeout: must be 0 to 10 minutes");
  }
  auto first = Conn::open(options.url);
  if (!first) return first.error();
  std::unique_ptr<Pool> pool(new Pool(std::move(options)));
  pool->idle_.push_back(std::make_unique<Conn>(std::move(first).value()));
  pool->open_ = 1;
  return pool;
}

Pool::~Pool() = default;

Expected<Pool::Lease> Pool::acquire() {
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      lock.unlock();
      const bool alive = conn->probe();
      if (alive) return Lease(this, std::move(conn));
      conn.reset();  // a dead connection: its slot opens a fresh one below
      lock.lock();
      --open_;
    }
    if (open_ < options_.max_connections) {
      ++open_;  // the slot is ours while the connection opens without the lock
      lock.unlock();
      auto conn = Conn::open(options_.url);
      if (!conn) {
        lock.lock();
        --open_;
        cv_.notify_one();
        return conn.error();
      }
      return Lease(this, std::make_unique<Conn>(std::move(conn).value()));
    }
    ++waiting_;
    const bool got = cv_.wait_until(
        lock, deadline, [&] { return !idle_.empty() || open_ < options_.max_connections; });
    --waiting_;
    if (!got) {
      return make_error("pool_exhausted",
                        "all " + std::to_string(options_.max_connections) +
                            " database connections stayed in use for " +
                            std::to_string(options_.acquire_timeout.count()) +
                            " ms; raise the pool's max_connections or find the slow statements");
    }
  }
}

void Pool::give_back(std::unique_ptr<Conn> conn) {
  // A lease that ends inside a transaction (an early return on an error) must not hand that
  // transaction to the next user: roll it back, or drop the connection.
  if (conn->usable() && conn->in_transaction()) {
    if (!conn->exec("ROLLBACK")) conn.reset();
  }
  if (conn && !conn->usable()) conn.reset();
  std::lock_guard lock(mu_);
  if (conn) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

Pool::Lease::~Lease() {
  if (pool_ && conn_) pool_->give_back(std::move(conn_));
}

int Pool::open_connections() const {
  std::lock_guard lock(mu_);
  return open_;
}

int Pool::idle_connections() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(idle_.size());
}

int Pool::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

}  // namespace rollout::server::pg
