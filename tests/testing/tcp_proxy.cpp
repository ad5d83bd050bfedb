#include "tests/testing/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace rollout::testing {

namespace {

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

TcpProxy::TcpProxy(std::uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("bind/listen failed");
  }
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mu_);
  for (auto& t : threads_) t.join();
}

void TcpProxy::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++connections_;
    if (partition_) {
      ::close(client);
      continue;
    }
    const int server = connect_loopback(target_port_);
    if (server < 0) {
      ::close(client);
      continue;
    }
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, client, server, cut = cut_after_.load(), rate = rate_.load()] {
      pump(client, server, cut, rate);
    });
  }
}

void TcpProxy::pump(int client, int server, std::uint64_t cut_after, std::uint64_t rate) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::uint64_t to_client = 0;
  char buf[16 * 1024];
  bool open = true;
  while (open && !stop_ && !partition_) {
    pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (::poll(p, 2, 50) <= 0) continue;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0 || !write_all(server, buf, static_cast<std::size_t>(n))) open = false;
    }
    if (open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      std::size_t want = sizeof buf;
      if (rate > 0) want = std::min<std::size_t>(want, static_cast<std::size_t>(rate / 20 + 1));
      if (cut_after > 0) {
        want = std::min<std::size_t>(want, static_cast<std::size_t>(cut_after - to_client));
      }
      const ssize_t n = ::recv(server, buf, want, 0);
      if (n <= 0 || !write_all(client, buf, static_cast<std::size_t>(n))) {
        open = false;
      } else {
        to_client += static_cast<std::uint64_t>(n);
        if (cut_after > 0 && to_client >= cut_after) {
          ++cuts_;
          open = false;
        }
        if (rate > 0) {
          // Sleep until the bytes sent so far fit the rate.
          const auto due = start + std::chrono::microseconds(to_client * 1'000'000 / rate);
          while (!stop_ && Clock::now() < due) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        }
      }
    }
  }
  ::shutdown(client, SHUT_RDWR);
  ::shutdown(server, SHUT_RDWR);
  ::close(client);
  ::close(server);
}

}  // namespace rollout::testing
