// The agent's journal as read back from disk after a crash, a full disk or a manual edit: the
// strict parser must refuse garbage without crashing, and what it accepts must round-trip.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/journal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto j = rollout::agent::parse_journal(text);
  if (!j) return 0;
  auto again = rollout::agent::parse_journal(rollout::agent::serialize(*j));
  if (!again || !(*again == *j)) std::abort();
  return 0;
}
