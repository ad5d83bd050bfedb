// The standalone HTTP/1.1 host: Boost.Beast over Asio with C++20 coroutines, one strand per
// connection, keep-alive, a body-size cap and a read timeout on every request, optional TLS, and
// graceful shutdown (stop accepting, let in-flight requests finish, close idle connections).
// Who may send a body is asked of the application from the headers (ServerOptions::admit), so
// an unauthenticated client is refused before the server reads what it sends.
// The application is a Handler called on a worker pool, so a blocking database call never stalls
// the I/O threads; so is each read of a response's BodySource (streamed with a fixed
// Content-Length; a failing source closes the connection, leaving the body short).
// start() binds and returns at once; run() blocks until shutdown() completes.
// shutdown() is thread-safe and may be called from a signal handler thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "server-plugin/http/message.hpp"

namespace rollout::http {

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8443;             // 0 picks a free port (tests)
  std::size_t body_limit = 1024 * 1024;  // hard cap on every request body
  // When set, the cap for one request, asked once its headers are in (a route-specific limit):
  // a larger Content-Length is refused with 413 before any of the body is read.
  std::function<std::size_t(std::string_view method, std::string_view target)> body_limit_for;
  // When set, asked (on a worker thread) for every request that has a body, once its headers
  // are in and before any of the body is read: a refusal is sent at once and the connection
  // closed unread; otherwise the admission's body_limit caps the body. Takes the place of
  // body_limit_for. The Request passed has an empty body.
  std::function<Admission(const Request& head)> admit;
  std::size_t header_limit = 16 * 1024;
  // Headers must arrive within read_timeout; after that, each read of the body may wait as long,
  // and the whole body must come at 16 KiB/s on average at least.
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{10'000};
  unsigned io_threads = 2;
  unsigned worker_threads = 4;
  std::string tls_cert_file;  // both set: serve HTTPS only
  std::string tls_key_file;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket and starts the I/O threads.
  Status start();
  // The bound port (after start()).
  std::uint16_t port() const;
  // Blocks until shutdown has finished.
  void wait();
  // Stops accepting, finishes in-flight requests, closes idle connections; at most
  // shutdown_grace later every connection is closed.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollout::http
