// JSON renderings shared by the handlers (the shapes of docs/openapi.yaml) and small request
// helpers: reading a JSON body, building error answers.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>

#include "server-plugin/app/state.hpp"
#include "server-plugin/health.hpp"

namespace rollout::server {

boost::json::object health_json(const Health& h);
boost::json::object event_json(const Event& e);
boost::json::object attempt_json(const Attempt& a);
http::Response json_ok(const boost::json::value& v, unsigned status = 200);
http::Response bad_request(const std::string& code, const std::string& message);
// A 500 whose message keeps the cause (the store's own message), which is also logged; for a
// store "conflict" that outlived with_conflict_retry, a 503 "busy" with Retry-After instead.
http::Response internal_error(const Error& e);

// The error of the first failed result among several reads, so that a handler that needs them
// all reports what actually failed rather than a bare "storage error".
template <class... Results>
std::optional<Error> first_failure(const Results&... results) {
  std::optional<Error> out;
  ((out || results ? void() : void(out = results.error())), ...);
  return out;
}

// Appends an audit event; a failed write is a storage error that aborts the caller's transaction.
// Every audited action calls this on the Tx of the same Store::transaction as its change, so an
// action whose audit row cannot be written does not happen.
Status audit(AppState& s, StoreOps& tx, const Event& e);

// The release with `key`, or nullopt with `answer` set to the 404 (or 500) to send.
std::optional<Release> find_release(StoreOps& db, const ReleaseKey& key, http::Response& answer);

// Parses a JSON object body (capped); on failure sets `error` to a 400 answer.
std::optional<boost::json::object> json_body(const Ctx& ctx, std::size_t cap,
                                             http::Response& error);

}  // namespace rollout::server
