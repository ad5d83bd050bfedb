// A bounded pool of PostgreSQL connections (pg::Conn) shared by the threads of one server: at
// most max_connections open at once, opened on demand and kept open; acquire() hands out a
// Lease (RAII: the connection goes back when the lease ends) and waits at most acquire_timeout
// for one when all are in use, then fails with "pool_exhausted". A connection that is lost,
// that the server is closing, or that comes back inside a transaction it cannot roll back is
// dropped, and the next acquire opens a fresh one in its place.
//
// Thread-safe: every member may be called from any thread; the idle list and the counts are
// guarded by mu_. The pool must outlive its leases.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "server-plugin/store/postgres/pg_conn.hpp"

namespace rollout::server::pg {

struct PoolOptions {
  std::string url;  // postgresql://... (database_url)
  int max_connections = 8;
  std::chrono::milliseconds acquire_timeout{5000};
};

inline constexpr int kMaxPoolConnections = 1000;

class Pool {
 public:
  class Lease {
   public:
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::move(o.conn_)) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Conn& operator*() { return *conn_; }
    Conn* operator->() { return conn_.get(); }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  // Checks the options (errors name the field) and opens one connection, so a wrong URL,
  // password or certificate shows at start-up rather than at the first request.
  static Expected<std::unique_ptr<Pool>> open(PoolOptions options);

  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool();

  Expected<Lease> acquire();

  // For tests and health output.
  int open_connections() const;
  int idle_connections() const;
  int waiting() const;

 private:
  explicit Pool(PoolOptions options) : options_(std::move(options)) {}
  void give_back(std::unique_ptr<Conn> conn);

  const PoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
  int open_ = 0;                             // guarded by mu_: idle + leased + being opened
  int waiting_ = 0;  // guarded by mu_: acquire() calls waiting for a connection
};

}  // namespace rollout::server::pg
