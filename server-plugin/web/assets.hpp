// The page assets (HTML, CSS, JS under server-plugin/web/assets/) embedded in the binary at build
// time by web/embed.cmake. Immutable static data; safe to read from any thread.
#pragma once

#include <string_view>
#include <vector>

namespace rollout::server::web {

struct Asset {
  std::string_view name;          // file name, e.g. "updates.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view bytes;
};

const std::vector<Asset>& assets();

}  // namespace rollout::server::web
