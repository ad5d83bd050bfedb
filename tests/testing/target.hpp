// What the programs under test are built for, and how this machine runs one of them: natively, or
// through the cross build's emulator (CMAKE_CROSSCOMPILING_EMULATOR, e.g. `qemu-aarch64 -L /` for
// the aarch64 preset; tests/CMakeLists.txt passes it as ROLLOUT_TEST_EMULATOR with the program's
// absolute path first, since the agent's `launcher` is executed without a PATH search).
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "platform/host.hpp"

#ifndef ROLLOUT_TEST_EMULATOR
#define ROLLOUT_TEST_EMULATOR ""
#endif

namespace rollout::testing {

// The architecture a release must name to be for the agent under test: the agent's own.
inline std::string target_arch() {
  return platform::build_arch();
}

// The emulator's command line (program first), empty when the tests run natively.
inline std::vector<std::string> emulator() {
  std::vector<std::string> out;
  std::istringstream words(ROLLOUT_TEST_EMULATOR);
  for (std::string w; words >> w;) out.push_back(w);
  return out;
}

// `argv` as this machine starts it: behind the emulator when there is one.
inline std::vector<std::string> emulated(std::vector<std::string> argv) {
  auto e = emulator();
  argv.insert(argv.begin(), e.begin(), e.end());
  return argv;
}

// The agent configuration line that starts a managed agent of the target architecture here
// ("" natively; the key is the agent's `launcher`).
inline std::string launcher_config() {
  const auto e = emulator();
  if (e.empty()) return "";
  std::string s = "launcher: [";
  for (std::size_t i = 0; i < e.size(); ++i) s += (i ? ", " : "") + e[i];
  return s + "]\n";
}

}  // namespace rollout::testing
