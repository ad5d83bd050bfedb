// A TCP proxy on loopback for network-fault tests: it forwards every connection to a target port
// and can cut a connection after N bytes towards the client, throttle that direction to a byte
// rate, or refuse everything (a partition). Settings apply to connections opened after the change.
// Each connection is served by its own thread; the destructor closes everything and joins.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rollout::testing {

class TcpProxy {
 public:
  explicit TcpProxy(std::uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const { return port_; }
  // 0 = never cut.
  void cut_after(std::uint64_t bytes_to_client) { cut_after_ = bytes_to_client; }
  // 0 = unthrottled.
  void throttle(std::uint64_t bytes_per_second) { rate_ = bytes_per_second; }
  // Cut every open connection and accept-and-close new ones (the server looks down).
  void partition(bool on) { partition_ = on; }
  int connections() const { return connections_; }
  int cuts() const { return cuts_; }

 private:
  void accept_loop();
  void pump(int client, int server, std::uint64_t cut_after, std::uint64_t rate);

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> cut_after_{0};
  std::atomic<std::uint64_t> rate_{0};
  std::atomic<bool> partition_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> cuts_{0};
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace rollout::testing
