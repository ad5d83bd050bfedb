// The rolloutctl verbs. Each takes the arguments after its name and returns the process exit
// code: 0 ok, 1 verification failed, 2 usage or input error (one line on stderr).
#pragma once

#include <string>
#include <vector>

namespace rollout::ctl {

int keygen(const std::vector<std::string>& args);
int sign_release(const std::vector<std::string>& args);
int verify(const std::vector<std::string>& args);

}  // namespace rollout::ctl
