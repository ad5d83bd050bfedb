// Semantic Versioning 2.0.0 values: strict parsing (no leading zeros, no "v" prefix, bounded
// length, ASCII only), precedence comparison including pre-release rules (build metadata ignored
// for precedence), and canonical printing. Version strings reach file paths and URLs, so anything
// that is not a valid SemVer is rejected with a message saying why. Value type, thread-compatible.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace rollout {

class SemVer {
 public:
  static constexpr std::size_t kMaxLength = 128;

  // Error code "invalid_version" with a message naming the offending part.
  static Expected<SemVer> parse(std::string_view text);

  std::uint64_t major() const { return major_; }
  std::uint64_t minor() const { return minor_; }
  std::uint64_t patch() const { return patch_; }
  const std::vector<std::string>& prerelease() const { return prerelease_; }
  const std::vector<std::string>& build() const { return build_; }

  // Canonical text, e.g. "1.2.3-rc.1+build.5".
  std::string str() const;

  // SemVer precedence (build metadata ignored): 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0.
  std::strong_ordering compare(const SemVer& other) const;
  friend std::strong_ordering operator<=>(const SemVer& a, const SemVer& b) { return a.compare(b); }
  // Equality by precedence, consistent with <=> (build metadata ignored).
  friend bool operator==(const SemVer& a, const SemVer& b) { return a.compare(b) == 0; }

 private:
  std::uint64_t major_ = 0, minor_ = 0, patch_ = 0;
  std::vector<std::string> prerelease_;
  std::vector<std::string> build_;
};

}  // namespace rollout
