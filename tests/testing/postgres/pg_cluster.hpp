// A real PostgreSQL 15 for the tests of one program, started by the tests themselves: initdb into
// a temporary directory, pg_ctl start (bounded: -w -t 30) listening only on 127.0.0.1 on a free
// port and on a unix socket inside that directory, TLS on with a self-signed certificate for
// 127.0.0.1 made at start-up, trust for the test user on the socket and SCRAM passwords on TCP.
// In a test program a GoogleTest Environment (pg_environment.cpp) starts it before the first test
// and stops it (pg_ctl stop -m fast) and deletes the directory after the last, also when tests
// fail; a program without GoogleTest (a benchmark) links this file alone and owns the cluster
// start_new() gives it. A watchdog process does the same if the program dies without reaching
// its end (a crash, a kill). Each test asks for a fresh database (create_database()).
//
// Binaries: PATH, then /usr/lib/postgresql/15/bin; when absent the start fails and says to
// install postgresql-15 (never a skip). As root (initdb refuses root) the cluster runs as the
// "postgres" user (from postgresql-common), else "nobody", through setpriv.
//
// Not thread-safe: call from the test's main thread; the URLs may be used from any thread.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace rollout::testing {

class PgCluster {
 public:
  // The program's running cluster (started by the Environment of pg_environment.cpp; fails the
  // test if it is not).
  static PgCluster& get();
  // Starts a cluster of its own, stopped and deleted when the returned object is destroyed.
  // Throws std::runtime_error with what to do (install postgresql-15, read the log).
  static std::unique_ptr<PgCluster> start_new();

  // A new, empty database of its own for the calling test; returns its name.
  std::string create_database();

  // postgresql:// URL of `db` over TCP on 127.0.0.1 with the test user's password; `extra` is
  // appended as URL parameters ("sslmode=verify-full&sslrootcert=...").
  std::string url(const std::string& db, const std::string& extra = "") const;
  // The same over the unix socket (trust, no password).
  std::string socket_url(const std::string& db) const;

  // The server's certificate, which is its own CA (sslrootcert for verify-full).
  std::filesystem::path ca_file() const;
  // Another self-signed certificate for 127.0.0.1, which the server's certificate is not
  // signed by (a wrong CA).
  std::filesystem::path other_ca_file() const;
  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  pid_t postmaster_pid() const;

  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;
  ~PgCluster();

 private:
  PgCluster() = default;
  // Throws std::runtime_error with what to do (install postgresql-15, read the log).
  void start();
  void stop();

  std::filesystem::path dir_;
  std::filesystem::path bin_;
  std::string run_as_;  // "" or the user name the cluster runs as (when we are root)
  int port_ = 0;
  int databases_ = 0;
  pid_t watchdog_ = -1;
  int watchdog_fd_ = -1;
};

// Polls `condition` (a query on another connection: "is that backend waiting for a lock?")
// until it holds; false after 30 s, a bound for a broken test rather than a timing expectation.
bool eventually(const std::function<bool()>& condition);

}  // namespace rollout::testing
