// Counted nouns in messages a person reads ("1 agent", "2 agents", "0 attempts"). Every message
// that puts a number before a noun goes through here, so the singular is never forgotten again.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rollout::text {

// "1 agent" / "3 agents"; `plural` defaults to `singular` + "s" (pass it for irregular nouns).
std::string counted(std::int64_t n, std::string_view singular, std::string_view plural = {});

}  // namespace rollout::text
