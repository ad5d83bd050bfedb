// The yaml-cpp side of config: the only file that sees YAML::Node or catches yaml-cpp exceptions.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "common/config.hpp"
#include "common/files.hpp"

namespace rollout::config {

struct Node {
  YAML::Node node;
};

struct Reader::Found {
  YAML::Node value;
  int line = 0;
};

namespace {

int line_of(const YAML::Node& n) {
  return n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
}

std::string describe(const std::string& source, int line) {
  std::string s = "config " + source;
  if (line > 0) s += " line " + std::to_string(line);
  return s;
}

// Scalar text of a node, or nullopt when it is not a scalar.
std::optional<std::string> scalar(const YAML::Node& n) {
  if (!n.IsScalar()) return std::nullopt;
  return n.Scalar();
}

Status check_duplicate_keys(const YAML::Node& map, const std::string& source) {
  std::set<std::string> keys;
  for (const auto& kv : map) {
    const auto key = scalar(kv.first);
    if (!key)
      return make_error("invalid_config",
                        describe(source, line_of(kv.first)) + ": keys must be plain words");
    if (!keys.insert(*key).second) {
      return make_error("invalid_config",
                        describe(source, line_of(kv.first)) + ": '" + *key + "' appears twice");
    }
    if (kv.second.IsMap()) {
      if (auto st = check_duplicate_keys(kv.second, source); !st) return st;
    }
  }
  return {};
}

}  // namespace

Reader::Reader(std::shared_ptr<const Node> map, std::string source, std::string prefix)
    : map_(std::move(map)), source_(std::move(source)), prefix_(std::move(prefix)) {}
Reader::~Reader() = default;

void Reader::fail_at(int line, std::string_view key, const std::string& problem) {
  if (error_) return;
  error_ = make_error("invalid_config", describe(source_, line) + ": '" + prefix_ +
                                            std::string(key) + "' " + problem);
}

void Reader::fail(std::string_view key, const std::string& problem) {
  Found f;
  const int line = find(key, f) ? f.line : line_of(map_->node);
  fail_at(line, key, problem);
}

bool Reader::find(std::string_view key, Found& out) {
  if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) seen_.emplace_back(key);
  for (const auto& kv : map_->node) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) {
      out.value = kv.second;
      out.line = line_of(kv.second.IsNull() ? kv.first : kv.second);
      return true;
    }
  }
  return false;
}

void Reader::string(std::string_view key, std::string& out, std::size_t max_len) {
  Found f;
  if (error_ || !find(key, f)) return;
  auto s = scalar(f.value);
  if (!s) return fail_at(f.line, key, "must be a string");
  if (s->size() > max_len)
    return fail_at(f.line, key, "is longer than " + std::to_string(max_len) + " characters");
  out = *s;
}

void Reader::boolean(std::string_view key, bool& out) {
  Found f;
  if (error_ || !find(key, f)) return;
  auto s = scalar(f.value);
  if (s && (*s == "true" || *s == "yes" || *s == "on")) {
    out = true;
  } else if (s && (*s == "false" || *s == "no" || *s == "off")) {
    out = false;
  } else {
    fail_at(f.line, key, "must be true or false");
  }
}

void Reader::uint(std::string_view key, std::uint64_t& out, std::uint64_t min, std::uint64_t max) {
  Found f;
  if (error_ || !find(key, f)) return;
  auto s = scalar(f.value);
  std::uint64_t v = 0;
  if (!s || s->empty() || s->size() > 19 ||
      s->find_first_not_of("0123456789") != std::string::npos) {
    return fail_at(f.line, key, "must be a whole number");
  }
  v = std::stoull(*s);
  if (v < min || v > max) {
    return fail_at(f.line, key,
                   "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  out = v;
}

void Reader::ratio(std::string_view key, double& out) {
  Found f;
  if (error_ || !find(key, f)) return;
  auto s = scalar(f.value);
  std::string text = s.value_or("");
  double scale = 1.0;
  if (!text.empty() && text.back() == '%') {
    text.pop_back();
    scale = 100.0;
  }
  char* end = nullptr;
  const double v = text.empty() ? NAN : std::strtod(text.c_str(), &end) / scale;
  if (!s || text.empty() || end != text.c_str() + text.size() || !(v >= 0.0 && v <= 1.0)) {
    return fail_at(f.line, key, "must be a fraction between 0 and 1, like 0.95 or 95%");
  }
  out = v;
}

void Reader::duration(std::string_view key, std::chrono::milliseconds& out) {
  Found f;
  if (error_ || !find(key, f)) return;
  auto s = scalar(f.value);
  auto d = parse_duration(s.value_or(""));
  if (!s || !d) return fail_at(f.line, key, "must be a duration like 60s (ms, s, m, h or d)");
  out = *d;
}

void Reader::size(std::string_view key, std::uint64_t& out) {
  Found f;
  if (error_ || !find(key, f)) return;
  auto s = scalar(f.value);
  auto n = parse_size(s.value_or(""));
  if (!s || !n) return fail_at(f.line, key, "must be a size like 10MiB (B, KiB, MiB or GiB)");
  out = *n;
}

void Reader::string_list(std::string_view key, std::vector<std::string>& out,
                         std::size_t max_items) {
  Found f;
  if (error_ || !find(key, f)) return;
  if (!f.value.IsSequence()) return fail_at(f.line, key, "must be a list");
  if (f.value.size() > max_items) {
    return fail_at(f.line, key, "has more than " + std::to_string(max_items) + " items");
  }
  std::vector<std::string> items;
  for (const auto& item : f.value) {
    auto s = scalar(item);
    if (!s || s->size() > 4096) return fail_at(line_of(item), key, "must be a list of strings");
    items.push_back(*s);
  }
  out = std::move(items);
}

void Reader::one_of(std::string_view key, std::string& out,
                    std::initializer_list<std::string_view> allowed) {
  Found f;
  if (error_ || !find(key, f)) return;
  auto s = scalar(f.value);
  if (s && std::find(allowed.begin(), allowed.end(), *s) != allowed.end()) {
    out = *s;
    return;
  }
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  fail_at(f.line, key, "must be one of " + list);
}

void Reader::section(std::string_view key, const std::function<void(Reader&)>& fn) {
  Found f;
  if (error_ || !find(key, f)) return;
  if (f.value.IsNull()) return;
  if (!f.value.IsMap()) return fail_at(f.line, key, "must be a mapping of keys");
  auto child = std::make_unique<Reader>(std::make_shared<Node>(Node{f.value}), source_,
                                        prefix_ + std::string(key) + ".");
  fn(*child);
  if (auto st = child->finish(); !st && !error_) error_ = st.error();
}

void Reader::section_list(std::string_view key, std::size_t max_items,
                          const std::function<void(Reader&, std::size_t)>& fn) {
  Found f;
  if (error_ || !find(key, f)) return;
  if (f.value.IsNull()) return;
  if (!f.value.IsSequence()) return fail_at(f.line, key, "must be a list");
  if (f.value.size() > max_items) {
    return fail_at(f.line, key, "has more than " + std::to_string(max_items) + " items");
  }
  std::size_t i = 0;
  for (const auto& item : f.value) {
    const std::string name = std::string(key) + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) return fail_at(line_of(item), name, "must be a mapping of keys");
    if (auto st = check_duplicate_keys(item, source_); !st) {
      error_ = st.error();
      return;
    }
    auto child =
        std::make_unique<Reader>(std::make_shared<Node>(Node{item}), source_, prefix_ + name + ".");
    fn(*child, i);
    if (auto st = child->finish(); !st && !error_) error_ = st.error();
    if (error_) return;
    ++i;
  }
}

Status Reader::finish() {
  if (error_) return *error_;
  for (const auto& kv : map_->node) {
    const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (std::find(seen_.begin(), seen_.end(), k) == seen_.end()) {
      return make_error("invalid_config", describe(source_, line_of(kv.first)) + ": unknown key '" +
                                              prefix_ + k + "'");
    }
  }
  return {};
}

namespace {

Status apply_node(const YAML::Node& root, const std::string& source, const Apply& apply) {
  if (root.IsNull()) {
    Reader r(std::make_shared<Node>(Node{YAML::Node(YAML::NodeType::Map)}), source, "");
    return apply(r);
  }
  if (!root.IsMap()) {
    return make_error("invalid_config", describe(source, line_of(root)) +
                                            ": the top level must be a mapping of keys");
  }
  if (auto st = check_duplicate_keys(root, source); !st) return st;
  Reader r(std::make_shared<Node>(Node{root}), source, "");
  return apply(r);
}

}  // namespace

Status load_string(std::string_view text, const std::string& source, const Apply& apply) {
  if (text.size() > kMaxFileBytes) {
    return make_error("invalid_config", "config " + source + ": larger than 1 MiB");
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return make_error("invalid_config", describe(source, e.mark.line >= 0 ? e.mark.line + 1 : 0) +
                                            ": not valid YAML: " + e.msg);
  }
  try {
    return apply_node(root, source, apply);
  } catch (const YAML::Exception& e) {
    return make_error("invalid_config", "config " + source + ": " + e.msg);
  }
}

namespace {

Status load_file(const std::string& path, const Apply& apply) {
  auto text = read_file_capped(path, kMaxFileBytes);
  if (!text) {
    return make_error(
        "invalid_config",
        "config " + path +
            (text.error().code == "too_large" ? ": larger than 1 MiB" : ": cannot be read"));
  }
  return load_string(*text, path, apply);
}

}  // namespace

Status load_layers(const std::string& main_path, const std::string& conf_d,
                   const std::vector<std::string>& overrides, const Apply& apply) {
  if (auto st = load_file(main_path, apply); !st) return st;
  std::error_code ec;
  if (!conf_d.empty() && std::filesystem::is_directory(conf_d, ec)) {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(conf_d, ec)) {
      if (e.path().extension() == ".yaml" && e.is_regular_file(ec))
        files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      if (auto st = load_file(file, apply); !st) return st;
    }
  }
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error("invalid_config",
                        "command line: override '" + o + "' must look like key.sub=value");
    }
    YAML::Node root(YAML::NodeType::Map);
    YAML::Node cur = root;
    std::string path = o.substr(0, eq);
    std::size_t pos = 0;
    for (;;) {
      const auto dot = path.find('.', pos);
      const std::string part =
          path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
      if (part.empty())
        return make_error("invalid_config", "command line: bad key in override '" + o + "'");
      if (dot == std::string::npos) {
        cur[part] = o.substr(eq + 1);
        break;
      }
      cur[part] = YAML::Node(YAML::NodeType::Map);
      cur.reset(cur[part]);  // rebind; operator= would overwrite the node's value instead
      pos = dot + 1;
    }
    try {
      if (auto st = apply_node(root, "command line", apply); !st) return st;
    } catch (const YAML::Exception& e) {
      return make_error("invalid_config", "command line: " + e.msg);
    }
  }
  return {};
}

}  // namespace rollout::config
