// A deliberately misbehaving HTTP server for tests: a loopback listener whose every connection
// is handed to a script that reads the request and writes whatever bytes it likes, as fast or as
// slowly as it likes (drip feeding, endless bodies, wrong ranges, cut connections, HTML, garbage).
// One background thread accepts and serves connections one at a time (or each on its own thread
// after serve_concurrently(), for a client that checks in while it downloads); the destructor
// stops them (a script blocked in drip() notices within one interval). Only binds 127.0.0.1.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace rollout::testing {

struct ScriptedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class ScriptedConnection {
 public:
  ScriptedConnection(int fd, const std::atomic<bool>& stop) : fd_(fd), stop_(stop) {}
  // False once the peer has gone or the server is stopping.
  bool write(std::string_view bytes);
  // Writes one byte per interval; stops early when the peer goes or the server stops.
  bool drip(std::string_view bytes, std::chrono::milliseconds interval);
  bool stopping() const { return stop_; }

 private:
  int fd_;
  const std::atomic<bool>& stop_;
};

class ScriptedServer {
 public:
  using Script = std::function<void(const ScriptedRequest&, ScriptedConnection&)>;
  explicit ScriptedServer(Script script);
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/") const;
  std::vector<ScriptedRequest> requests() const;
  // From now on every connection gets its own thread: the script must then be thread-safe.
  void serve_concurrently() { concurrent_ = true; }

  // A complete response with Content-Length.
  static std::string response(int status, std::string_view body,
                              std::string_view extra_headers = "",
                              std::string_view content_type = "application/json");

 private:
  void serve();
  void serve_one(int fd);

  Script script_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> concurrent_{false};
  mutable std::mutex mu_;  // guards requests_
  std::vector<ScriptedRequest> requests_;
  std::thread thread_;
  std::vector<std::thread> connections_;  // only the serving thread touches it
};

}  // namespace rollout::testing
