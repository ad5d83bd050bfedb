#include "common/json.hpp"

namespace rollout::json {

namespace bj = boost::json;

Expected<bj::value> parse(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_bytes) {
    return make_error("too_large", "JSON body of " + std::to_string(text.size()) +
                                       " bytes exceeds the limit of " +
                                       std::to_string(limits.max_bytes));
  }
  bj::parse_options opt;
  opt.max_depth = limits.max_depth;
  bj::error_code ec;
  bj::value v = bj::parse(text, ec, bj::storage_ptr(), opt);
  if (ec) return make_error("invalid_json", "malformed JSON: " + ec.message());
  return v;
}

Expected<bj::object> parse_object(std::string_view text, std::string_view what,
                                  const Limits& limits) {
  auto v = parse(text, limits);
  if (!v) return v.error().context(std::string(what));
  if (!v->is_object())
    return make_error("invalid_json", std::string(what) + ": expected a JSON object");
  return std::move(v->as_object());
}

const bj::value* Reader::find(std::string_view key, bool required) {
  if (error_) return nullptr;
  seen_.emplace(key);
  const bj::value* v = obj_.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) fail(key, "is required");
    return nullptr;
  }
  return v;
}

void Reader::fail(std::string_view key, std::string_view problem) {
  if (error_) return;
  error_ =
      make_error("invalid_field", what_ + ": '" + std::string(key) + "' " + std::string(problem));
}

void Reader::type_error(std::string_view key, std::string_view expected) {
  fail(key, "must be " + std::string(expected));
}

namespace {
std::optional<std::string> checked_string(Reader& r, const bj::value& v, std::string_view key,
                                          std::size_t max_len, bool allow_empty) {
  if (!v.is_string()) {
    r.fail(key, "must be a string");
    return std::nullopt;
  }
  const auto& s = v.get_string();
  if (s.size() > max_len) {
    r.fail(key, "is longer than " + std::to_string(max_len) + " bytes");
    return std::nullopt;
  }
  if (s.empty() && !allow_empty) {
    r.fail(key, "must not be empty");
    return std::nullopt;
  }
  return std::string(s);
}

std::optional<std::uint64_t> checked_uint(Reader& r, const bj::value& v, std::string_view key,
                                          std::uint64_t max) {
  std::uint64_t out = 0;
  if (v.is_uint64()) {
    out = v.get_uint64();
  } else if (v.is_int64() && v.get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v.get_int64());
  } else {
    r.fail(key, "must be a non-negative integer");
    return std::nullopt;
  }
  if (out > max) {
    r.fail(key, "must be at most " + std::to_string(max));
    return std::nullopt;
  }
  return out;
}

std::optional<std::int64_t> checked_int(Reader& r, const bj::value& v, std::string_view key) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  r.fail(key, "must be an integer");
  return std::nullopt;
}
}  // namespace

std::string Reader::string(std::string_view key, std::size_t max_len, bool allow_empty) {
  const bj::value* v = find(key, true);
  if (!v) return {};
  return checked_string(*this, *v, key, max_len, allow_empty).value_or(std::string());
}

std::uint64_t Reader::uint(std::string_view key, std::uint64_t max) {
  const bj::value* v = find(key, true);
  if (!v) return 0;
  return checked_uint(*this, *v, key, max).value_or(0);
}

std::int64_t Reader::integer(std::string_view key) {
  const bj::value* v = find(key, true);
  if (!v) return 0;
  return checked_int(*this, *v, key).value_or(0);
}

bool Reader::boolean(std::string_view key) {
  const bj::value* v = find(key, true);
  if (!v) return false;
  if (!v->is_bool()) {
    type_error(key, "true or false");
    return false;
  }
  return v->get_bool();
}

const bj::object* Reader::checked_object(std::string_view key, bool required) {
  const bj::value* v = find(key, required);
  if (!v) return nullptr;
  if (!v->is_object()) {
    type_error(key, "an object");
    return nullptr;
  }
  return &v->get_object();
}

const bj::array* Reader::checked_array(std::string_view key, std::size_t max_items, bool required) {
  const bj::value* v = find(key, required);
  if (!v) return nullptr;
  if (!v->is_array()) {
    type_error(key, "an array");
    return nullptr;
  }
  if (v->get_array().size() > max_items) {
    fail(key, "has more than " + std::to_string(max_items) + " items");
    return nullptr;
  }
  return &v->get_array();
}

const bj::object* Reader::object(std::string_view key) {
  return checked_object(key, true);
}

const bj::array* Reader::array(std::string_view key, std::size_t max_items) {
  return checked_array(key, max_items, true);
}

std::optional<std::string> Reader::opt_string(std::string_view key, std::size_t max_len) {
  const bj::value* v = find(key, false);
  if (!v) return std::nullopt;
  return checked_string(*this, *v, key, max_len, true);
}

std::optional<std::uint64_t> Reader::opt_uint(std::string_view key, std::uint64_t max) {
  const bj::value* v = find(key, false);
  if (!v) return std::nullopt;
  return checked_uint(*this, *v, key, max);
}

std::optional<std::int64_t> Reader::opt_integer(std::string_view key) {
  const bj::value* v = find(key, false);
  if (!v) return std::nullopt;
  return checked_int(*this, *v, key);
}

std::optional<bool> Reader::opt_boolean(std::string_view key) {
  const bj::value* v = find(key, false);
  if (!v) return std::nullopt;
  if (!v->is_bool()) {
    type_error(key, "true or false");
    return std::nullopt;
  }
  return v->get_bool();
}

const bj::object* Reader::opt_object(std::string_view key) {
  return checked_object(key, false);
}

const bj::array* Reader::opt_array(std::string_view key, std::size_t max_items) {
  return checked_array(key, max_items, false);
}

void Reader::no_unknown_keys() {
  if (error_) return;
  for (const auto& kv : obj_) {
    if (!seen_.contains(std::string_view(kv.key()))) {
      std::string k(kv.key().substr(0, 64));
      error_ = make_error("invalid_field", what_ + ": unknown field '" + k + "'");
      return;
    }
  }
}

}  // namespace rollout::json
