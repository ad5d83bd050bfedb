// A fixed pool of keep-alive HTTP(S) connections to one server, driven by one io_context (one
// thread): requests queue until a connection is free, a connection (re)connects when it has to,
// verifies the server's certificate and host against the CA, and caps every answer (1 MiB body,
// 16 KiB headers). A request that fails on a reused connection the server had closed is retried
// once on a fresh one, as libcurl does for the real agent. Nothing here is thread-safe: a Pool and
// its callbacks live on their io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rollout::fleetsim {

inline constexpr std::size_t kMaxResponseBody = 1024 * 1024;
inline constexpr std::uint32_t kMaxResponseHeader = 16 * 1024;

struct HttpAnswer {
  // Empty when an HTTP answer arrived; otherwise why not: connect, tls, timeout, too_large,
  // bad_http, closed, io.
  std::string failure;
  unsigned status = 0;
  std::string body;
  std::chrono::steady_clock::duration latency{};  // from the first byte written to the last read
  std::string preference_applied;  // the Preference-Applied header (a held long-poll answer)
};

struct HttpRequest {
  std::string target;                    // e.g. /api/agent/v1/checkin
  std::string body;                      // JSON
  std::string token;                     // bearer token, empty for none
  std::string prefer;                    // a Prefer header (long-poll: "wait=N"), empty for none
  std::chrono::milliseconds timeout{0};  // 0: the pool's
};

using HttpCallback = std::function<void(HttpAnswer)>;

struct PoolConfig {
  std::string host;
  std::string port;
  bool tls = true;
  std::size_t connections = 1;
  std::chrono::milliseconds timeout{30000};
};

class Pool {
 public:
  class Connection;  // the per-connection state machine (http_pool.cpp)

  // `ssl` may be null for a plain-http pool; it must outlive the pool.
  Pool(boost::asio::io_context& io, boost::asio::ssl::context* ssl, PoolConfig config,
       boost::asio::ip::tcp::resolver::results_type endpoints);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  void submit(HttpRequest request, HttpCallback done);
  // Closes every connection; queued requests are dropped without a callback.
  void close();
  std::size_t queued() const { return queue_.size(); }

 private:
  friend class Connection;
  struct Job {
    HttpRequest request;
    HttpCallback done;
  };
  void idle(Connection* c);

  boost::asio::io_context& io_;
  boost::asio::ssl::context* ssl_;
  PoolConfig config_;
  boost::asio::ip::tcp::resolver::results_type endpoints_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<Connection*> idle_;
  std::deque<Job> queue_;
  bool closed_ = false;
};

}  // namespace rollout::fleetsim
