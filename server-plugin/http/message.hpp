// Transport-neutral HTTP request and response values. The standalone Beast host and the C ABI
// plugin entry both translate to and from these, so the application code never sees a socket.
// A response body is either bytes in memory or a byte range of a file on disk (artifacts), so
// large downloads are streamed, never loaded whole. Plain values; no thread-safety concerns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollout::http {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as received ("/api/agents?limit=5")
  std::vector<Header> headers;
  std::string body;
  std::string remote_addr;
  bool tls = false;

  // Case-insensitive header lookup; the first match or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

struct FileRange {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct Response {
  unsigned status = 200;
  std::vector<Header> headers;
  std::string body;
  std::optional<FileRange> file;  // when set, streamed instead of body

  void set_header(std::string name, std::string value);
  std::optional<std::string_view> header(std::string_view name) const;
};

// { "error": code, "message": text } with the given status and a JSON content type.
Response error_response(unsigned status, std::string_view code, std::string_view message);
Response json_response(unsigned status, std::string body);

}  // namespace rollout::http
