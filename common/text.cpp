#include "common/text.hpp"

namespace rollout::text {

std::string counted(std::int64_t n, std::string_view singular, std::string_view plural) {
  std::string out = std::to_string(n) + " ";
  if (n == 1 || n == -1) {
    out += singular;
  } else if (plural.empty()) {
    out += singular;
    out += 's';
  } else {
    out += plural;
  }
  return out;
}

}  // namespace rollout::text
