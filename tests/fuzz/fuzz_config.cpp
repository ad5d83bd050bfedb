// Config parsing: arbitrary YAML through the same Reader path the agent and server use.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string url;
  std::chrono::milliseconds poll{0};
  std::uint64_t bytes = 0, n = 0;
  bool flag = false;
  double ratio = 0;
  std::string channel;
  std::vector<std::string> keys;
  (void)rollout::config::load_string(text, "fuzz", [&](rollout::config::Reader& r) {
    r.string("server_url", url);
    r.duration("poll_interval", poll);
    r.size("bandwidth", bytes);
    r.boolean("flag", flag);
    r.one_of("channel", channel, {"beta", "stable"});
    r.string_list("keys", keys);
    r.section("health", [&](rollout::config::Reader& h) {
      h.uint("min_attempts", n, 1, 1000);
      h.ratio("success", ratio);
    });
    r.section_list("hooks", 8, [&](rollout::config::Reader& item, std::size_t) {
      item.string("url", url);
      item.string_list("events", keys);
      item.boolean("flag", flag);
    });
    return r.finish();
  });
  return 0;
}
