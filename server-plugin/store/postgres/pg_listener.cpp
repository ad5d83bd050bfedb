#include "server-plugin/store/postgres/pg_listener.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace rollout::server::pg {
namespace {

using namespace std::chrono_literals;

constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 5000ms;
constexpr auto kConnectTimeout = 10s;

std::string trimmed(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.empty() ? "no message from libpq" : out;
}

struct Finish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, Finish>;

Error listen_error(const std::string& what) {
  return make_error("storage", "database listener: " + what);
}

}  // namespace

Expected<std::unique_ptr<Listener>> Listener::start(const std::string& url, std::string channel,
                                                    std::function<void()> callback) {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return listen_error(std::string("eventfd: ") + std::strerror(errno));
  std::unique_ptr<Listener> l(new Listener(url, std::move(channel), std::move(callback), fd));
  // The first connection on the caller's thread: its failure is the caller's error, and once
  // this returns the LISTEN is in place.
  if (auto st = l->connect(); !st) return st.error();
  l->thread_ = std::thread([self = l.get()] { self->run(); });
  return l;
}

Listener::~Listener() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    // Cannot fail short of a bad descriptor: the counter is far from its maximum.
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  drop_connection();
  ::close(stop_fd_);
}

void Listener::set_callback(std::function<void()> callback) {
  std::lock_guard lock(mu_);
  callback_ = std::move(callback);
}

void Listener::call_back() {
  std::lock_guard lock(mu_);
  if (callback_) callback_();
}

void Listener::drop_connection() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

Listener::Wake Listener::wait(int fd, short events, std::optional<Clock::time_point> deadline) {
  if (stopped_) return Wake::stop;
  pollfd p[2] = {{stop_fd_, POLLIN, 0}, {fd, events, 0}};
  for (;;) {
    int timeout = -1;
    if (deadline) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) return Wake::timed_out;
      timeout = static_cast<int>(std::min<std::int64_t>(left, 60'000));
    }
    const int n = ::poll(p, 2, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (p[0].revents != 0) {
      stopped_ = true;
      return Wake::stop;
    }
    if (n == 0) continue;  // the deadline is checked again above
    // Ready, or poll() itself failed: either way the caller's next libpq call tells.
    return Wake::ready;
  }
}

Status Listener::connect() {
  drop_connection();
  // Keywords before "dbname" are defaults the URL (expanded in its place) may override. The
  // keepalives find a connection whose peer vanished without a word, which would otherwise
  // wait for a notification for hours.
  const char* keys[] = {"application_name", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "dbname",          nullptr};
  const char* vals[] = {"rollout-server listener", "30", "10", "3", url_.c_str(), nullptr};
  ConnPtr c(PQconnectStartParams(keys, vals, 1));
  if (!c) return listen_error("out of memory");
  // The FATAL of a terminated connection would go to stderr: the lost connection says enough.
  PQsetNoticeReceiver(
      c.get(), [](void*, const PGresult*) {}, nullptr);
  if (PQstatus(c.get()) == CONNECTION_BAD) {
    return listen_error("cannot connect: " + trimmed(PQerrorMessage(c.get())));
  }
  const auto deadline = Clock::now() + kConnectTimeout;
  auto gone = [&](Wake w) -> std::optional<Error> {
    if (w == Wake::stop) return listen_error("stopped");
    if (w == Wake::timed_out) return listen_error("timed out connecting to the database");
    return std::nullopt;
  };
  // libpq's connection sequence without blocking: wait for what PQconnectPoll asks for.
  for (auto polling = PGRES_POLLING_WRITING; polling != PGRES_POLLING_OK;) {
    if (polling == PGRES_POLLING_FAILED) {
      return listen_error("cannot connect: " + trimmed(PQerrorMessage(c.get())));
    }
    const short events = polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (auto e = gone(wait(PQsocket(c.get()), events, deadline))) return *e;
    polling = PQconnectPoll(c.get());
  }

  char* ident = PQescapeIdentifier(c.get(), channel_.c_str(), channel_.size());
  if (!ident) return listen_error("channel name: " + trimmed(PQerrorMessage(c.get())));
  const std::string sql = std::string("LISTEN ") + ident;
  PQfreemem(ident);
  if (PQsendQuery(c.get(), sql.c_str()) == 0) {
    return listen_error("LISTEN: " + trimmed(PQerrorMessage(c.get())));
  }
  for (;;) {
    if (PQconsumeInput(c.get()) == 0) {
      return listen_error("LISTEN: " + trimmed(PQerrorMessage(c.get())));
    }
    if (PQisBusy(c.get()) == 0) break;
    if (auto e = gone(wait(PQsocket(c.get()), POLLIN, deadline))) return *e;
  }
  std::optional<Error> failed;
  while (PGresult* r = PQgetResult(c.get())) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !failed) {
      failed = listen_error("LISTEN: " + trimmed(PQresultErrorMessage(r)));
    }
    PQclear(r);
  }
  if (failed) return *failed;
  // Nothing can be pending before the LISTEN; whatever came with its answer is covered by the
  // caller (start: nothing happened yet; a reconnection: one call anyway).
  while (PGnotify* n = PQnotifies(c.get())) PQfreemem(n);
  conn_ = c.release();
  return {};
}

void Listener::run() {
  auto backoff = std::chrono::milliseconds(kFirstBackoff);
  for (;;) {
    if (!conn_) {
      if (wait(-1, 0, Clock::now() + backoff) == Wake::stop) return;
      if (auto st = connect(); !st) {
        if (stopped_) return;
        backoff = std::min(backoff * 2, std::chrono::milliseconds(kMaxBackoff));
        continue;
      }
      backoff = kFirstBackoff;
      call_back();  // what was notified while there was no connection is lost
      continue;
    }
    const int fd = PQsocket(conn_);
    if (fd < 0) {
      drop_connection();
      continue;
    }
    if (wait(fd, POLLIN, std::nullopt) == Wake::stop) return;
    // A terminated backend sends its FATAL and closes: either the read fails or the status
    // turns bad.
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
      drop_connection();
      continue;
    }
    bool notified = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      notified = notified || channel_ == n->relname;
      PQfreemem(n);
    }
    if (notified) call_back();
  }
}

}  // namespace rollout::server::pg
