// The rolloutctl verbs. Each takes the arguments after its name and returns the process exit
// code: 0 ok, 1 verification failed or the server refused, 2 usage or input error (one line on
// stderr).
#pragma once

#include <string>
#include <vector>

namespace rollout::ctl {

int keygen(const std::vector<std::string>& args);
int sign_release(const std::vector<std::string>& args);
int verify(const std::vector<std::string>& args);
// Against the server's management API (tools/rolloutctl/api.hpp): exit 1 when the server refuses.
int publish(const std::vector<std::string>& args);
int status(const std::vector<std::string>& args);
int promote(const std::vector<std::string>& args);
int rollback(const std::vector<std::string>& args);
// rollout pause|resume|advance|all|abort VERSION: a stable rollout in waves.
int rollout_control(const std::vector<std::string>& args);
int users(const std::vector<std::string>& args);
int token(const std::vector<std::string>& args);

}  // namespace rollout::ctl
