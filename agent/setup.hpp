// What the Windows installer's properties become (installers/windows/rollout-agent.wxs): the
// agent's config file and the pinned key and CA files it names, all in one config directory.
// Pure: it validates and renders, the caller writes (owner-only) and decides where. Properties
// come from a command line (msiexec ... SERVER_URL=... /qn), so each is size-capped and checked;
// a bad one is an "invalid_property" error naming it, and nothing is rendered.
#pragma once

#include <string>
#include <vector>

#include "common/error.hpp"

namespace rollout::agent {

struct SetupProperties {
  std::string server_url;      // SERVER_URL: https://host[:port], required
  std::string enrollment_key;  // ENROLLMENT_KEY: required, a secret
  // RELEASE_KEYS / DIRECTIVE_KEYS: the Ed25519 public keys' base64 (the line between the PEM
  // armour lines of rolloutctl keygen's .pub), comma-separated for rotation; required.
  std::string release_keys;
  std::string directive_keys;
  std::string server_ca;  // SERVER_CA: the server's CA certificate's base64 (PEM body), optional
  std::string channel;    // CHANNEL: beta | stable (default stable), used at enrollment
  // EXECUTABLE: the managed agent's file name inside versions/<v>/ (agent.exe, say); optional,
  // the config's default when empty.
  std::string executable;
  std::string state_dir;     // where the installer put the state (not a property an admin sets)
  std::string install_root;  // where the managed agent's versions go (likewise)
};

struct SetupFile {
  std::string name;   // file name inside the config directory
  std::string bytes;  // its content
};

// Caps: a property longer than this is refused without being looked at further.
inline constexpr std::size_t kMaxPropertyBytes = 16 * 1024;
inline constexpr std::size_t kMaxSetupKeys = 16;

// agent.yaml first, then release-N.pub, directive-N.pub and server-ca.pem; the config's paths are
// `config_dir` joined with those names.
Expected<std::vector<SetupFile>> render_setup(const SetupProperties& p,
                                              const std::string& config_dir);

}  // namespace rollout::agent
