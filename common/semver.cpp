#include "common/semver.hpp"

#include <charconv>
#include <optional>

namespace rollout {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool all_digits(std::string_view s) {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// Printable, bounded echo of untrusted input for error messages.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > 64) out += "...";
  return out;
}

Error bad(std::string_view text, const std::string& why) {
  return make_error("invalid_version", "version '" + shown(text) + "': " + why);
}

std::optional<std::string> parse_number(std::string_view part, const char* name,
                                        std::uint64_t& out) {
  if (part.empty()) return std::string(name) + " is missing";
  if (!all_digits(part)) return std::string(name) + " must be digits only";
  if (part.size() > 1 && part[0] == '0') return std::string(name) + " has a leading zero";
  auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
  if (ec != std::errc() || ptr != part.data() + part.size()) {
    return std::string(name) + " is too large";
  }
  return std::nullopt;
}

// Splits "a.b.c" into identifiers, validating each; `numeric_rules` applies the pre-release rule
// that numeric identifiers have no leading zeros.
std::optional<std::string> parse_identifiers(std::string_view part, const char* name,
                                             bool numeric_rules, std::vector<std::string>& out) {
  if (part.empty()) return std::string(name) + " is empty";
  std::size_t pos = 0;
  for (;;) {
    const auto dot = part.find('.', pos);
    const auto id =
        part.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (id.empty()) return std::string(name) + " has an empty identifier";
    for (char c : id) {
      if (!is_ident_char(c)) return std::string(name) + " may contain only [0-9A-Za-z-] and dots";
    }
    if (numeric_rules && id.size() > 1 && id[0] == '0' && all_digits(id)) {
      return std::string(name) + " identifier '" + std::string(id) + "' has a leading zero";
    }
    out.emplace_back(id);
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return std::nullopt;
}

int compare_identifier(const std::string& a, const std::string& b) {
  const bool an = all_digits(a);
  const bool bn = all_digits(b);
  if (an && bn) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;  // no leading zeros
    return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
  }
  if (an != bn) return an ? -1 : 1;  // numeric identifiers sort below alphanumeric ones
  const int c = a.compare(b);
  return c < 0 ? -1 : (c == 0 ? 0 : 1);
}

}  // namespace

Expected<SemVer> SemVer::parse(std::string_view text) {
  if (text.empty()) return bad(text, "is empty");
  if (text.size() > kMaxLength) {
    return bad(text, "is longer than " + std::to_string(kMaxLength) + " characters");
  }
  SemVer v;
  std::string_view rest = text;
  std::string_view build;
  if (const auto plus = rest.find('+'); plus != std::string_view::npos) {
    build = rest.substr(plus + 1);
    rest = rest.substr(0, plus);
    if (auto e = parse_identifiers(build, "build metadata", false, v.build_)) return bad(text, *e);
  }
  std::string_view pre;
  if (const auto dash = rest.find('-'); dash != std::string_view::npos) {
    pre = rest.substr(dash + 1);
    rest = rest.substr(0, dash);
    if (auto e = parse_identifiers(pre, "pre-release", true, v.prerelease_)) return bad(text, *e);
  }
  const auto d1 = rest.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : rest.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos ||
      rest.find('.', d2 + 1) != std::string_view::npos) {
    return bad(text, "must be MAJOR.MINOR.PATCH (like 1.4.2)");
  }
  if (auto e = parse_number(rest.substr(0, d1), "major", v.major_)) return bad(text, *e);
  if (auto e = parse_number(rest.substr(d1 + 1, d2 - d1 - 1), "minor", v.minor_)) {
    return bad(text, *e);
  }
  if (auto e = parse_number(rest.substr(d2 + 1), "patch", v.patch_)) return bad(text, *e);
  return v;
}

std::string SemVer::str() const {
  std::string s =
      std::to_string(major_) + "." + std::to_string(minor_) + "." + std::to_string(patch_);
  for (std::size_t i = 0; i < prerelease_.size(); ++i) s += (i ? "." : "-") + prerelease_[i];
  for (std::size_t i = 0; i < build_.size(); ++i) s += (i ? "." : "+") + build_[i];
  return s;
}

std::strong_ordering SemVer::compare(const SemVer& o) const {
  if (auto c = major_ <=> o.major_; c != 0) return c;
  if (auto c = minor_ <=> o.minor_; c != 0) return c;
  if (auto c = patch_ <=> o.patch_; c != 0) return c;
  // A release sorts above every pre-release of the same version.
  if (prerelease_.empty() || o.prerelease_.empty()) {
    return o.prerelease_.size() <=> prerelease_.size() == 0 ? std::strong_ordering::equal
           : prerelease_.empty()                            ? std::strong_ordering::greater
                                                            : std::strong_ordering::less;
  }
  const std::size_t n = std::min(prerelease_.size(), o.prerelease_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const int c = compare_identifier(prerelease_[i], o.prerelease_[i]);
    if (c != 0) return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  return prerelease_.size() <=> o.prerelease_.size();
}

}  // namespace rollout
