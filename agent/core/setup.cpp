#include "agent/setup.hpp"

#include "common/crypto.hpp"
#include "common/encoding.hpp"
#include "platform/fs.hpp"

namespace rollout::agent {

namespace {

Error bad(const char* property, const std::string& why) {
  return make_error("invalid_property", std::string(property) + ": " + why);
}

// One printable ASCII token: no spaces, quotes, backslashes or control characters. They would be
// a copy-and-paste accident on a command line and could not be told apart in a log, and the
// installer passes each property as one quoted argument ("NAME=[NAME]"), where a quote or a
// backslash before the closing quote would change how the setup step splits its arguments.
bool token(const std::string& s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || ch == '\'' || ch == '"' || ch == '\\') return false;
  }
  return true;
}

// A YAML single-quoted scalar: backslashes stay literal (Windows paths), a quote is doubled.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// PEM armour around a base64 body, wrapped at 64 columns.
std::string pem(const char* label, const std::string& body) {
  std::string out = std::string("-----BEGIN ") + label + "-----\n";
  for (std::size_t i = 0; i < body.size(); i += 64) out += body.substr(i, 64) + "\n";
  return out + "-----END " + label + "-----\n";
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// RELEASE_KEYS / DIRECTIVE_KEYS into PEM files named <stem>-<n>.pub, each a valid Ed25519 key.
Status keys(const char* property, const std::string& value, const std::string& stem,
            std::vector<SetupFile>& files, std::vector<std::string>& names) {
  if (value.empty()) return bad(property, "is required (the key's base64, from its .pub file)");
  const auto parts = split(value);
  if (parts.size() > kMaxSetupKeys) {
    return bad(property, "at most " + std::to_string(kMaxSetupKeys) + " keys");
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string where = "key " + std::to_string(i + 1);
    if (parts[i].empty() || !token(parts[i]) || !encoding::unbase64(parts[i])) {
      return bad(property, where + " is not base64");
    }
    std::string text = pem("PUBLIC KEY", parts[i]);
    if (auto k = crypto::PublicKey::from_pem(text); !k) {
      return bad(property, where + " is not an Ed25519 public key (" + k.error().message + ")");
    }
    names.push_back(stem + "-" + std::to_string(i + 1) + ".pub");
    files.push_back({names.back(), std::move(text)});
  }
  return {};
}

}  // namespace

Expected<std::vector<SetupFile>> render_setup(const SetupProperties& p,
                                              const std::string& config_dir) {
  const std::pair<const char*, const std::string*> all[] = {
      {"SERVER_URL", &p.server_url},     {"ENROLLMENT_KEY", &p.enrollment_key},
      {"RELEASE_KEYS", &p.release_keys}, {"DIRECTIVE_KEYS", &p.directive_keys},
      {"SERVER_CA", &p.server_ca},       {"CHANNEL", &p.channel},
      {"EXECUTABLE", &p.executable}};
  for (const auto& [name, value] : all) {
    if (value->size() > kMaxPropertyBytes) {
      return bad(name, "longer than " + std::to_string(kMaxPropertyBytes) + " bytes");
    }
  }
  if (p.server_url.empty()) return bad("SERVER_URL", "is required (https://host:port)");
  if (!token(p.server_url) || p.server_url.rfind("https://", 0) != 0 || p.server_url.size() <= 8 ||
      p.server_url.size() > 2048) {
    return bad("SERVER_URL", "must be an https:// URL without spaces, quotes or backslashes");
  }
  if (p.enrollment_key.empty()) return bad("ENROLLMENT_KEY", "is required");
  if (p.enrollment_key.size() > 256 || !token(p.enrollment_key)) {
    return bad("ENROLLMENT_KEY",
               "must be 1 to 256 printable characters without spaces, quotes or backslashes");
  }
  // Not properties but the caller's paths; still nothing YAML's single quotes cannot hold.
  for (const auto* path : {&config_dir, &p.state_dir, &p.install_root}) {
    for (const char ch : *path) {
      if (static_cast<unsigned char>(ch) < 0x20) {
        return make_error("invalid_path", "a control character in the path " + *path);
      }
    }
  }
  const std::string channel = p.channel.empty() ? "stable" : p.channel;
  if (channel != "beta" && channel != "stable") return bad("CHANNEL", "must be beta or stable");
  if (!p.executable.empty() && (p.executable.size() > 255 || !token(p.executable) ||
                                p.executable.find('/') != std::string::npos ||
                                p.executable == "." || p.executable == "..")) {
    return bad("EXECUTABLE", "must be a file name (agent.exe), not a path");
  }

  std::vector<SetupFile> files{{"agent.yaml", ""}};
  std::vector<std::string> release, directive;
  if (auto st = keys("RELEASE_KEYS", p.release_keys, "release", files, release); !st) {
    return st.error();
  }
  if (auto st = keys("DIRECTIVE_KEYS", p.directive_keys, "directive", files, directive); !st) {
    return st.error();
  }
  std::string ca_file;
  if (!p.server_ca.empty()) {
    auto der = encoding::unbase64(p.server_ca);
    // A DER certificate is a SEQUENCE (0x30); anything else is not one, whatever it decodes to.
    if (!token(p.server_ca) || !der || der->empty() ||
        static_cast<unsigned char>((*der)[0]) != 0x30) {
      return bad("SERVER_CA", "must be the CA certificate's base64 (its PEM body on one line)");
    }
    files.push_back({"server-ca.pem", pem("CERTIFICATE", p.server_ca)});
    ca_file = platform::join_path(config_dir, "server-ca.pem");
  }
  auto list = [&](const std::vector<std::string>& names) {
    std::string out = "[";
    for (std::size_t i = 0; i < names.size(); ++i) {
      out += (i ? ", " : "") + quoted(platform::join_path(config_dir, names[i]));
    }
    return out + "]";
  };
  std::string& y = files.front().bytes;
  y = "# Written by the rollout-agent installer from its properties (SERVER_URL, ENROLLMENT_KEY,\n"
      "# RELEASE_KEYS, DIRECTIVE_KEYS, SERVER_CA, CHANNEL, EXECUTABLE). Readable by SYSTEM and\n"
      "# Administrators only: it holds the enrollment key. Every key: conf/agent.example.yaml.\n";
  y += "server_url: " + quoted(p.server_url) + "\n";
  y += "enrollment_key: " + quoted(p.enrollment_key) + "\n";
  y += "ca_file: " + quoted(ca_file) + "\n";
  y += "release_keys: " + list(release) + "\n";
  y += "directive_keys: " + list(directive) + "\n";
  y += "channel_hint: " + channel + "\n";
  if (!p.executable.empty()) y += "executable: " + quoted(p.executable) + "\n";
  if (!p.state_dir.empty()) y += "state_dir: " + quoted(p.state_dir) + "\n";
  if (!p.install_root.empty()) y += "install_root: " + quoted(p.install_root) + "\n";
  return files;
}

}  // namespace rollout::agent
