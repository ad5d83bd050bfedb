#include "tests/testing/postgres/pg_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "server-plugin/store/postgres/pg_conn.hpp"
#include "tests/testing/testing.hpp"

namespace fs = std::filesystem;

namespace rollout::testing {
namespace {

constexpr const char* kUser = "rollout_test";
constexpr const char* kPassword = "test-password-not-secret";

std::string tail(const std::string& s, std::size_t n = 2000) {
  return s.size() > n ? "..." + s.substr(s.size() - n) : s;
}

// The directory holding initdb and pg_ctl of PostgreSQL 15 or later.
fs::path find_postgres() {
  std::vector<fs::path> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    for (std::size_t start = 0, end; start <= p.size(); start = end + 1) {
      end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      if (end > start) dirs.emplace_back(p.substr(start, end - start));
    }
  }
  dirs.emplace_back("/usr/lib/postgresql/15/bin");
  for (const auto& d : dirs) {
    if (::access((d / "initdb").c_str(), X_OK) != 0 ||
        ::access((d / "pg_ctl").c_str(), X_OK) != 0) {
      continue;
    }
    auto v = run({(d / "initdb").string(), "--version"});  // "initdb (PostgreSQL) 15.5 (...)"
    const auto at = v.out.find(") ");
    const int major = at == std::string::npos ? 0 : std::atoi(v.out.c_str() + at + 2);
    if (major < 15) {
      throw std::runtime_error("PostgreSQL at " + d.string() + " is '" + v.out +
                               "'; the tests need 15: apt-get install postgresql-15");
    }
    return d;
  }
  throw std::runtime_error(
      "initdb and pg_ctl not found on PATH nor in /usr/lib/postgresql/15/bin: the PostgreSQL "
      "tests start a real server; install the Debian package postgresql-15 (./scripts/test "
      "installs it)");
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

void make_certificate(const fs::path& cert, const fs::path& key) {
  auto r =
      run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
           "subjectAltName=IP:127.0.0.1", "-keyout", key.string(), "-out", cert.string()});
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
  ::chmod(key.c_str(), 0600);
}

}  // namespace

std::unique_ptr<PgCluster> PgCluster::start_new() {
  std::unique_ptr<PgCluster> cluster(new PgCluster());
  try {
    cluster->start();
  } catch (...) {
    cluster->stop();  // what start() made so far: the directory, the watchdog
    throw;
  }
  return cluster;
}

PgCluster::~PgCluster() {
  stop();
}

void PgCluster::start() {
  bin_ = find_postgres();
  std::string tmpl = (fs::temp_directory_path() / "rollout-pg-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  fs::create_directories(dir_ / "sock");
  fs::create_directories(dir_ / "tls");
  make_certificate(dir_ / "tls" / "server.crt", dir_ / "tls" / "server.key");
  make_certificate(dir_ / "tls" / "other.crt", dir_ / "tls" / "other.key");
  write_file(dir_ / "pw", std::string(kPassword) + "\n");

  // initdb and postgres refuse to run as root: then the cluster's files belong to an
  // unprivileged user and its programs run as that user (setpriv, util-linux).
  std::vector<std::string> as;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw) pw = ::getpwnam("nobody");
    if (!pw) throw std::runtime_error("running as root and no 'postgres' or 'nobody' user");
    run_as_ = pw->pw_name;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (::lchown(e.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("chown " + e.path().string() + " failed");
      }
    }
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("chown " + dir_.string() + " failed");
    }
    as = {"/usr/bin/setpriv", "--reuid=" + std::to_string(pw->pw_uid),
          "--regid=" + std::to_string(pw->pw_gid), "--clear-groups", "--"};
  }
  // In the cluster's directory: the user may not be able to enter the caller's.
  as.insert(as.end(), {"/usr/bin/env", "-C", dir_.string()});
  auto cmd = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = as;
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  const std::string data = (dir_ / "data").string();
  const std::string pg_ctl = (bin_ / "pg_ctl").string();

  // The watchdog: reads its stdin, a pipe whose only writer is this process, and when it ends
  // (this process exits or dies) stops the cluster and deletes the directory.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::vector<std::string> wargv = {"/bin/sh", "-c",
                                    "trap '' INT TERM HUP; d=$1; shift; cat >/dev/null; "
                                    "\"$@\" >/dev/null 2>&1; rm -rf \"$d\"",
                                    "pg-watchdog", dir_.string()};
  for (auto& a : cmd({pg_ctl, "stop", "-D", data, "-m", "immediate", "-w", "-t", "30"})) {
    wargv.push_back(a);
  }
  watchdog_ = ::fork();
  if (watchdog_ < 0) throw std::runtime_error("fork failed");
  if (watchdog_ == 0) {
    ::dup2(fds[0], 0);
    std::vector<char*> args;
    for (auto& a : wargv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[0]);
  watchdog_fd_ = fds[1];

  auto init = run(
      cmd({(bin_ / "initdb").string(), "-D", data, "-U", kUser,
           "--pwfile=" + (dir_ / "pw").string(), "--auth-local=trust", "--auth-host=scram-sha-256",
           "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"}));
  if (init.exit_code != 0) {
    const std::string hint =
        run_as_.empty() ? ""
                        : " (initdb ran as '" + run_as_ + "': every directory above " +
                              dir_.string() + " must be searchable by it; TMPDIR picks another)";
    throw std::runtime_error("initdb failed (exit " + std::to_string(init.exit_code) + ")" + hint +
                             ": " + tail(init.out + init.err));
  }
  // Loopback only, the socket in our directory, TLS on, and no durability (a test cluster).
  std::ofstream conf(dir_ / "data" / "postgresql.conf", std::ios::app);
  conf << "\nlisten_addresses = '127.0.0.1'\n"
       << "unix_socket_directories = '" << (dir_ / "sock").string() << "'\n"
       << "ssl = on\nssl_cert_file = '" << (dir_ / "tls" / "server.crt").string() << "'\n"
       << "ssl_key_file = '" << (dir_ / "tls" / "server.key").string() << "'\n"
       << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
       << "shared_buffers = 32MB\nmax_connections = 60\n";
  conf.close();
  std::ofstream hba(dir_ / "data" / "pg_hba.conf", std::ios::trunc);
  hba << "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
  hba.close();

  // The postmaster outlives pg_ctl; as our orphan (subreaper) it is reaped by stop(), so no
  // zombie of it is left for an init that reaps late.
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Another process may take the port between free_port() and the bind: try a few.
  std::string log;
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int port = free_port();
    auto r = run(cmd({pg_ctl, "start", "-D", data, "-l", (dir_ / "server.log").string(), "-w", "-t",
                      "30", "-o", "-p " + std::to_string(port)}));
    if (r.exit_code == 0) {
      port_ = port;
      return;
    }
    log = read_file(dir_ / "server.log");
    if (log.find("could not bind") == std::string::npos &&
        log.find("already in use") == std::string::npos) {
      break;
    }
  }
  throw std::runtime_error("pg_ctl start failed; server.log: " + tail(log));
}

void PgCluster::stop() {
  if (!dir_.empty()) {
    std::vector<std::string> as;
    if (!run_as_.empty()) {
      const passwd* pw = ::getpwnam(run_as_.c_str());
      as = {"/usr/bin/setpriv", "--reuid=" + std::to_string(pw->pw_uid),
            "--regid=" + std::to_string(pw->pw_gid), "--clear-groups", "--"};
    }
    as.insert(as.end(), {"/usr/bin/env", "-C", dir_.string(), (bin_ / "pg_ctl").string(), "stop",
                         "-D", (dir_ / "data").string(), "-w", "-t", "30", "-m"});
    if (port_ != 0) {
      const pid_t postmaster = postmaster_pid();
      auto fast = as;
      fast.push_back("fast");
      if (run(fast).exit_code != 0) {
        as.push_back("immediate");
        if (run(as).exit_code != 0 && postmaster > 0) ::kill(postmaster, SIGKILL);
      }
      if (postmaster > 0) {
        while (::waitpid(postmaster, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
    port_ = 0;
  }
  if (watchdog_fd_ >= 0) {
    ::close(watchdog_fd_);  // the watchdog finds nothing left to do and exits
    watchdog_fd_ = -1;
  }
  if (watchdog_ > 0) {
    int status = 0;
    while (::waitpid(watchdog_, &status, 0) < 0 && errno == EINTR) {
    }
    watchdog_ = -1;
  }
}

std::string PgCluster::create_database() {
  auto admin = server::pg::Conn::open(socket_url("postgres"));
  if (!admin) throw std::runtime_error(admin.error().message);
  const std::string name = "test_" + std::to_string(++databases_);
  if (auto r = admin->exec("CREATE DATABASE " + name); !r) {
    throw std::runtime_error(r.error().message);
  }
  return name;
}

std::string PgCluster::url(const std::string& db, const std::string& extra) const {
  return "postgresql://" + std::string(kUser) + ":" + kPassword +
         "@127.0.0.1:" + std::to_string(port_) + "/" + db + (extra.empty() ? "" : "?" + extra);
}

std::string PgCluster::socket_url(const std::string& db) const {
  return "postgresql:///" + db + "?host=" + (dir_ / "sock").string() +
         "&port=" + std::to_string(port_) + "&user=" + kUser;
}

fs::path PgCluster::ca_file() const {
  return dir_ / "tls" / "server.crt";
}
fs::path PgCluster::other_ca_file() const {
  return dir_ / "tls" / "other.crt";
}

pid_t PgCluster::postmaster_pid() const {
  std::ifstream f(dir_ / "data" / "postmaster.pid");
  pid_t pid = -1;
  f >> pid;
  return pid;
}

bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace rollout::testing
