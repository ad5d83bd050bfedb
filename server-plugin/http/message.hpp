// Transport-neutral HTTP request and response values. The standalone Beast host and the C ABI
// plugin entry both translate to and from these, so the application code never sees a socket.
// A response body is bytes in memory, a byte range of a file on disk, or a BodySource that the
// host pulls piece by piece (artifacts in the database), so large downloads are streamed, never
// loaded whole. Plain values; no thread-safety concerns (a BodySource is used by one thread at a
// time).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace rollout::http {

struct Header {
  std::string name;
  std::string value;
};

// Takes a request body piece by piece as it arrives instead of holding it in memory (an
// artifact upload streamed to disk). The application hands one out at admission; the host calls
// write() for each piece in order, from one thread at a time, then passes the request (with an
// empty body) and this sink to the application, which judges what was written.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void write(std::string_view chunk) = 0;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as received ("/api/agents?limit=5")
  std::vector<Header> headers;
  std::string body;
  std::shared_ptr<BodySink> sink;  // when set, the body went there instead of into `body`
  std::string remote_addr;
  bool tls = false;
  // The host can wait for a Response::deferred (the standalone host; not the plugin ABI).
  bool can_defer = false;

  // Case-insensitive header lookup; the first match or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

struct FileRange {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// Gives a response body piece by piece (pull): exactly size() bytes in all, in order. read() may
// block (a database query), so hosts call it off their I/O threads. An error, or fewer bytes than
// size() before the end, makes the host close the connection: the client sees a short body,
// never wrong bytes. Called from one thread at a time.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual std::uint64_t size() const = 0;
  // The next piece, at most `max` bytes (max > 0); empty once all size() bytes were given.
  virtual Expected<std::string> read(std::size_t max) = 0;
};

class Deferred;

struct Response {
  unsigned status = 200;
  std::vector<Header> headers;
  std::string body;
  std::optional<FileRange> file;       // when set, streamed instead of body
  std::shared_ptr<BodySource> source;  // when set (and no file), streamed instead of body
  // When set, the answer comes later (a held long-poll check-in): the host waits for it, without
  // a thread, and sends it instead of this response's own fields (see Deferred).
  std::shared_ptr<Deferred> deferred;

  void set_header(std::string name, std::string value);
  std::optional<std::string_view> header(std::string_view name) const;
};

// An answer the application gives later: a long-poll check-in held open until something for
// its client changes. The host waits, holding no thread, until answer() is called (from any
// thread), `limit` passes, the client goes away or the server stops; it then sends the answer
// given, else `at_limit`. Only one of them is ever sent: once the host has ended the hold,
// answer() returns false and the caller knows its answer was not delivered.
class Deferred {
 public:
  // `on_close` runs once, when the hold ends (the host took its response, or the Deferred is
  // destroyed unused): the application's count of held requests.
  Deferred(std::chrono::milliseconds limit, Response at_limit, std::function<void()> on_close = {});
  ~Deferred();
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;

  std::chrono::milliseconds limit() const { return limit_; }
  // Gives the answer (any thread). True when it is the one the host will send: the hold was open
  // and nothing was answered before.
  bool answer(Response r);
  // Whether the hold still waits for an answer.
  bool open() const;

  // Host side. `ready` is called once an answer is given (on the answering thread), at once if
  // one was given already.
  void on_answer(std::function<void()> ready);
  // Ends the hold: the answer given, else at_limit. Later answer() calls return false.
  Response finish();

 private:
  void close_locked();
  mutable std::mutex mu_;
  const std::chrono::milliseconds limit_;
  Response at_limit_;
  std::optional<Response> answer_;
  std::function<void()> ready_;
  std::function<void()> on_close_;
  bool finished_ = false;
};

// The application's answer to a request whose headers are in, before any of its body is read:
// either a refusal that the host sends at once, closing the connection without reading the body
// (401/403 for a caller who may not use the route, 413 for a declared length over its cap), or
// the largest body the host may read for it.
struct Admission {
  std::optional<Response> refusal;
  std::size_t body_limit = 0;
  // When set, the host streams the body into it (and sets Request::sink) instead of reading it
  // into memory.
  std::shared_ptr<BodySink> sink;
};

// { "error": code, "message": text } with the given status and a JSON content type.
Response error_response(unsigned status, std::string_view code, std::string_view message);
Response json_response(unsigned status, std::string body);

}  // namespace rollout::http
