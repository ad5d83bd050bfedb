// Configuration: YAML into a component's own struct with defaults, validated as it is read.
// A component writes one `apply` function that walks a Reader over the top-level mapping:
//
//   Status apply(config::Reader& r) {
//     r.string("server_url", cfg.server_url);
//     r.duration("poll_interval", cfg.poll_interval);
//     r.section("health", [&](config::Reader& h) { h.uint("min_attempts", cfg.min_attempts); });
//     return r.finish();  // unknown keys and the first bad value, with file and line
//   }
//
// Getters assign only when the key is present, so the struct's initialisers are the defaults.
// Layers are applied in order to the same struct: built-in defaults < the main file <
// conf.d/*.yaml (sorted by name) < command-line overrides ("key.sub=value"). Every error names
// the source, the line and the key: "config /etc/rollout/agent.yaml line 12: 'poll_interval'
// must be a duration like 60s". Files over 1 MiB are refused. Not thread-safe; used at start-up.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace rollout::config {

inline constexpr std::size_t kMaxFileBytes = 1024 * 1024;

struct Node;  // a YAML node with its source; defined in config/yaml.cpp

class Reader {
 public:
  Reader(std::shared_ptr<const Node> map, std::string source, std::string prefix);
  ~Reader();

  void string(std::string_view key, std::string& out, std::size_t max_len = 4096);
  void boolean(std::string_view key, bool& out);
  void uint(std::string_view key, std::uint64_t& out, std::uint64_t min = 0,
            std::uint64_t max = std::numeric_limits<std::uint64_t>::max());
  template <class T>
  void number(std::string_view key, T& out, T min = std::numeric_limits<T>::min(),
              T max = std::numeric_limits<T>::max()) {
    std::uint64_t v = static_cast<std::uint64_t>(out);
    uint(key, v, static_cast<std::uint64_t>(min), static_cast<std::uint64_t>(max));
    out = static_cast<T>(v);
  }
  // A fraction: "0.95" or "95%".
  void ratio(std::string_view key, double& out);
  // "500ms", "60s", "10m", "1h", "7d".
  void duration(std::string_view key, std::chrono::milliseconds& out);
  // Bytes: "1048576", "512KiB", "10MiB", "1GiB".
  void size(std::string_view key, std::uint64_t& out);
  void string_list(std::string_view key, std::vector<std::string>& out, std::size_t max_items = 64);
  void one_of(std::string_view key, std::string& out,
              std::initializer_list<std::string_view> allowed);
  void section(std::string_view key, const std::function<void(Reader&)>& fn);
  // A list of mappings (`webhooks: [{url: ..., secret: ...}]`): `fn` reads item i with the
  // prefix "key[i]." in messages; unknown keys in an item are errors like anywhere else.
  void section_list(std::string_view key, std::size_t max_items,
                    const std::function<void(Reader&, std::size_t)>& fn);

  // Records a failure found by the caller's own validation, located at `key`.
  void fail(std::string_view key, const std::string& problem);
  // The first error, else the first key nobody asked for, else ok.
  Status finish();
  bool ok() const { return !error_.has_value(); }

 private:
  struct Found;
  bool find(std::string_view key, Found& out);
  void fail_at(int line, std::string_view key, const std::string& problem);

  std::shared_ptr<const Node> map_;
  std::string source_;
  std::string prefix_;
  std::vector<std::string> seen_;
  std::optional<Error> error_;
  std::vector<std::unique_ptr<Reader>> children_;
};

using Apply = std::function<Status(Reader&)>;

// Parses `text` (named `source` in messages) and applies it. An empty document is an empty
// mapping; any other non-mapping top level is an error.
Status load_string(std::string_view text, const std::string& source, const Apply& apply);

// Applies the main file (must exist), then conf_d/*.yaml in name order (the directory may be
// absent or empty), then the overrides ("key.sub=value", values parsed as YAML scalars).
Status load_layers(const std::string& main_path, const std::string& conf_d,
                   const std::vector<std::string>& overrides, const Apply& apply);

// Parsers used by the getters, public for flags and tests.
Expected<std::chrono::milliseconds> parse_duration(std::string_view text);
Expected<std::uint64_t> parse_size(std::string_view text);

}  // namespace rollout::config
