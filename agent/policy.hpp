// Whether to act on a directive whose signatures already verified (DESIGN.md §2): it must be for
// this agent, for the product it is configured for, for this os/arch, newer than the last accepted
// one, not expired (within the clock tolerance) and not issued in the future; install only moves
// up, downgrade only down and never below the security floor; a version string must be safe as a
// path component. Pure: the controller supplies the facts, so every rule has a unit test.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "agent/installer.hpp"
#include "common/error.hpp"
#include "common/release.hpp"

namespace rollout::agent {

struct AgentFacts {
  std::string agent_id;
  std::string os;
  std::string arch;
  std::string current_version;
  std::uint64_t last_sequence = 0;
  std::uint64_t security_floor = 0;
  std::chrono::system_clock::time_point now;
  std::chrono::milliseconds clock_tolerance{std::chrono::minutes(5)};
  std::string product = "rollout-agent";  // AgentConfig::product
};

// The update to start, or an error whose code names the rule: wrong_agent, wrong_product,
// wrong_platform, replayed_directive, expired, not_yet_valid, not_an_upgrade, not_a_downgrade,
// below_security_floor, invalid_version, no_release. Action none is "nothing_to_do". The same
// sequence as the last accepted one passes here: whether it is that very directive is the
// installer's call (Installer::begin, "sequence_reused").
Expected<UpdateTarget> accept_directive(const VerifiedDirective& d, const AgentFacts& facts);

}  // namespace rollout::agent
