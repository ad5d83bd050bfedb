#include "tools/rolloutctl/args.hpp"

#include <cstdio>

namespace rollout::ctl {

Expected<Args> Args::parse(const std::vector<std::string>& argv, const FlagSpec& spec) {
  Args out;
  bool only_positional = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (only_positional || a.size() < 2 || a.rfind("--", 0) != 0) {
      out.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (spec.switches.contains(name)) {
      if (value) return make_error("usage", "--" + name + " takes no value");
      out.values_[name].push_back("true");
    } else if (spec.values.contains(name)) {
      if (!value) {
        if (i + 1 >= argv.size()) return make_error("usage", "--" + name + " needs a value");
        value = argv[++i];
      }
      out.values_[name].push_back(*value);
    } else {
      return make_error("usage", "unknown option --" + name + " (see --help)");
    }
  }
  if (out.has("help")) return out;
  if (out.positional_.size() < spec.min_positional) {
    return make_error("usage", "missing argument (see --help)");
  }
  if (out.positional_.size() > spec.max_positional) {
    return make_error("usage",
                      "unexpected argument '" + out.positional_[spec.max_positional] + "'");
  }
  return out;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Expected<std::string> Args::require(const std::string& name) const {
  auto v = get(name);
  if (!v || v->empty()) return make_error("usage", "missing --" + name + " (see --help)");
  return *v;
}

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "rolloutctl: %s\n", message.c_str());
  return code;
}

}  // namespace rollout::ctl
