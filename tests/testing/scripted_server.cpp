#include "tests/testing/scripted_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace rollout::testing {
namespace {

// Reads one request (head + Content-Length body). Empty method on failure.
ScriptedRequest read_request(int fd, const std::atomic<bool>& stop) {
  ScriptedRequest req;
  std::string data;
  std::size_t head_end = std::string::npos;
  char buf[4096];
  auto read_more = [&]() {
    pollfd p{fd, POLLIN, 0};
    while (!stop) {
      const int r = ::poll(&p, 1, 50);
      if (r > 0) break;
      if (r < 0) return false;
    }
    if (stop) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    data.append(buf, static_cast<std::size_t>(n));
    return true;
  };
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    if (data.size() > 65536 || !read_more()) return req;
  }
  std::string head = data.substr(0, head_end);
  std::size_t pos = head.find("\r\n");
  const std::string line = head.substr(0, pos);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return req;
  while (pos != std::string::npos && pos < head.size()) {
    const std::size_t next = head.find("\r\n", pos + 2);
    const std::string h =
        head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const auto colon = h.find(':');
    if (colon != std::string::npos) {
      std::string name = h.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      req.headers[name] = value;
    }
    pos = next;
  }
  std::size_t length = 0;
  if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
    length = std::stoul(it->second);
  }
  while (data.size() < head_end + 4 + length) {
    if (!read_more()) return req;
  }
  req.body = data.substr(head_end + 4, length);
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  return req;
}

}  // namespace

bool ScriptedConnection::write(std::string_view bytes) {
  while (!bytes.empty()) {
    if (stop_) return false;
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool ScriptedConnection::drip(std::string_view bytes, std::chrono::milliseconds interval) {
  for (char c : bytes) {
    if (!write(std::string_view(&c, 1))) return false;
    const auto until = std::chrono::steady_clock::now() + interval;
    while (std::chrono::steady_clock::now() < until) {
      if (stop_) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return true;
}

ScriptedServer::ScriptedServer(Script script) : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("bind/listen failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

ScriptedServer::~ScriptedServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
}

std::string ScriptedServer::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::vector<ScriptedRequest> ScriptedServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::string ScriptedServer::response(int status, std::string_view body,
                                     std::string_view extra_headers,
                                     std::string_view content_type) {
  std::string r = "HTTP/1.1 " + std::to_string(status) +
                  " X\r\nContent-Type: " + std::string(content_type) +
                  "\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\n" + std::string(extra_headers) + "\r\n";
  r += body;
  return r;
}

void ScriptedServer::serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (concurrent_) {
      connections_.emplace_back([this, fd] { serve_one(fd); });
    } else {
      serve_one(fd);
    }
  }
  for (auto& t : connections_) t.join();
}

void ScriptedServer::serve_one(int fd) {
  ScriptedRequest req = read_request(fd, stop_);
  if (!req.method.empty()) {
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
    }
    ScriptedConnection conn(fd, stop_);
    script_(req, conn);
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace rollout::testing
