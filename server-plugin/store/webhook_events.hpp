// A webhook's event filter as both backends keep it: the JSON array text of its event names.
// Shared so the two stores read and write one format (a database copied from one to the other
// keeps its filters).
#pragma once

#include <string>
#include <vector>

#include <boost/json.hpp>

namespace rollout::server {

inline std::string webhook_events_text(const std::vector<std::string>& events) {
  boost::json::array a;
  for (const auto& e : events) a.emplace_back(e);
  return boost::json::serialize(a);
}

// Anything but an array of strings reads as no events (the store wrote the text itself).
inline std::vector<std::string> webhook_events_of(const std::string& text) {
  std::vector<std::string> out;
  boost::json::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

}  // namespace rollout::server
