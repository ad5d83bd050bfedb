// How rolloutctl's server verbs reach the management API: the server URL, credentials (an API
// token, or a user name and password that log in for a session and its CSRF token) and TLS trust
// come from flags or the environment; answers are parsed JSON. Exit codes follow rolloutctl's
// convention: 0 ok, 1 the server refused or could not be reached, 2 usage or input error
// (including a 400/413 from the server: the request itself was wrong).
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <set>
#include <string>

#include "common/http/client.hpp"
#include "tools/rolloutctl/args.hpp"

namespace rollout::ctl {

// The flags every server verb accepts, merged into a verb's own spec.
FlagSpec with_server_flags(FlagSpec spec);
// Help text for those flags.
extern const char* const kServerFlagsHelp;

struct ApiAnswer {
  long status = 0;
  boost::json::value body;  // null when the answer was not JSON
};

class ApiClient {
 public:
  // Reads --server/ROLLOUT_SERVER, --token/ROLLOUT_TOKEN, --user with ROLLOUT_PASSWORD or
  // --password-file, --ca-file/ROLLOUT_CA_FILE, --allow-http. Usage errors have code "usage".
  static Expected<ApiClient> from_args(const Args& args);

  // Sends a request (logging in first when using a user name). Network failures are errors with
  // code "network"; every HTTP status is an answer.
  Expected<ApiAnswer> call(const std::string& method, const std::string& path,
                           const std::string& body = "",
                           const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  Status login();

  std::string server_;
  std::string token_;
  std::string user_, password_;
  std::string cookie_, csrf_;
  std::shared_ptr<net::Transport> transport_;
};

// Prints the server's refusal ("rolloutctl: HTTP 409 health_check_failed: ...") and returns the
// exit code for the status.
int report_refusal(const ApiAnswer& answer);
// Exit code for a transport error or a local problem (prints it).
int report_error(const Error& error);

// Percent-encodes a path segment (versions may hold '+').
std::string path_segment(const std::string& s);

}  // namespace rollout::ctl
