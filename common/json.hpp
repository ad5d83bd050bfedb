// Strict JSON input handling for everything parsed from outside (signed documents, protocol
// bodies, API requests). parse() enforces a byte cap and a nesting-depth cap before building the
// tree. Reader walks one object, collecting the first error so call sites stay linear:
//
//   json::Reader r(obj, "release manifest");
//   m.version = r.string("version", 128);
//   m.size = r.uint("size");
//   r.no_unknown_keys();
//   if (!r.ok()) return r.error();
//
// After an error every getter returns a default value; only the first error is kept.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace rollout::json {

struct Limits {
  std::size_t max_bytes = 64 * 1024;
  std::size_t max_depth = 16;
};

// Error code "invalid_json" (syntax, depth) or "too_large" (byte cap).
Expected<boost::json::value> parse(std::string_view text, const Limits& limits = {});

// Parses and requires the top level to be an object.
Expected<boost::json::object> parse_object(std::string_view text, std::string_view what,
                                           const Limits& limits = {});

class Reader {
 public:
  Reader(const boost::json::object& obj, std::string what) : obj_(obj), what_(std::move(what)) {}

  // Required members. Strings are checked for length (bytes) and for being non-empty unless
  // allow_empty is set.
  std::string string(std::string_view key, std::size_t max_len, bool allow_empty = false);
  std::uint64_t uint(std::string_view key, std::uint64_t max = UINT64_MAX);
  std::int64_t integer(std::string_view key);
  bool boolean(std::string_view key);
  const boost::json::object* object(std::string_view key);
  const boost::json::array* array(std::string_view key, std::size_t max_items);

  // Optional members: absent or null gives nullopt/nullptr; a wrong type is still an error.
  std::optional<std::string> opt_string(std::string_view key, std::size_t max_len);
  std::optional<std::uint64_t> opt_uint(std::string_view key, std::uint64_t max = UINT64_MAX);
  std::optional<std::int64_t> opt_integer(std::string_view key);
  std::optional<bool> opt_boolean(std::string_view key);
  const boost::json::object* opt_object(std::string_view key);
  const boost::json::array* opt_array(std::string_view key, std::size_t max_items);

  // Fails on any member that no getter asked for.
  void no_unknown_keys();

  // Records a validation failure found by the caller (e.g. an enum value out of range).
  void fail(std::string_view key, std::string_view problem);

  bool ok() const { return !error_; }
  const Error& error() const { return *error_; }

 private:
  const boost::json::value* find(std::string_view key, bool required);
  void type_error(std::string_view key, std::string_view expected);
  const boost::json::object* checked_object(std::string_view key, bool required);
  const boost::json::array* checked_array(std::string_view key, std::size_t max_items,
                                          bool required);

  const boost::json::object& obj_;
  std::string what_;
  std::set<std::string, std::less<>> seen_;
  std::optional<Error> error_;
};

}  // namespace rollout::json
