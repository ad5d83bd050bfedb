// Command-line parsing for rolloutctl verbs: "--name value", "--name=value", boolean switches,
// repeatable flags and positional arguments. Each verb declares what it accepts; anything else is
// a usage error (exit code 2) with one line saying what was wrong.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace rollout::ctl {

enum Exit { kOk = 0, kVerifyFailed = 1, kUsage = 2 };

struct FlagSpec {
  std::set<std::string> values;    // flags that take a value ("key", "pubkey")
  std::set<std::string> switches;  // flags without a value ("force", "help")
  std::size_t min_positional = 0;
  std::size_t max_positional = 0;
};

class Args {
 public:
  static Expected<Args> parse(const std::vector<std::string>& argv, const FlagSpec& spec);

  bool has(const std::string& name) const { return values_.contains(name); }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // A required flag's value, or the usage error "missing --name".
  Expected<std::string> require(const std::string& name) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Prints "rolloutctl: <message>" to stderr and returns `code`.
int fail(int code, const std::string& message);

}  // namespace rollout::ctl
