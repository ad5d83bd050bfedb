#include <cstdio>
#include <filesystem>

#include "common/crypto.hpp"
#include "platform/secret_file.hpp"
#include "tools/rolloutctl/args.hpp"
#include "tools/rolloutctl/commands.hpp"

namespace rollout::ctl {

namespace {
constexpr const char* kHelp =
    "usage: rolloutctl keygen --role release|directive --out DIR\n"
    "\n"
    "Generates an Ed25519 key pair: DIR/<role>.key (private, owner-only, never overwritten)\n"
    "and DIR/<role>.pub (public, for agents' and the server's pinned key lists).\n"
    "The release key belongs offline with the build pipeline; the directive key with the server.\n";
}

int keygen(const std::vector<std::string>& argv) {
  auto args = Args::parse(argv, {{"role", "out"}, {"help"}, 0, 0});
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help")) {
    std::fputs(kHelp, stdout);
    return kOk;
  }
  auto role = args->require("role");
  if (!role) return fail(kUsage, role.error().message);
  if (*role != "release" && *role != "directive") {
    return fail(kUsage, "--role must be 'release' or 'directive'");
  }
  auto out = args->require("out");
  if (!out) return fail(kUsage, out.error().message);
  std::error_code ec;
  std::filesystem::create_directories(*out, ec);
  if (ec) return fail(kUsage, "cannot create " + *out + ": " + ec.message());
  auto key = crypto::PrivateKey::generate();
  if (!key) return fail(kUsage, key.error().message);
  const std::string priv = (std::filesystem::path(*out) / (*role + ".key")).string();
  const std::string pub = (std::filesystem::path(*out) / (*role + ".pub")).string();
  if (std::filesystem::exists(pub, ec))
    return fail(kUsage, pub + " exists; refusing to replace a key");
  if (auto st = platform::write_new_secret_file(priv, key->pem()); !st) {
    return fail(kUsage, st.error().message);
  }
  std::FILE* f = std::fopen(pub.c_str(), "wx");
  const std::string pem = key->public_key().pem();
  if (f == nullptr || std::fwrite(pem.data(), 1, pem.size(), f) != pem.size() ||
      std::fclose(f) != 0) {
    return fail(kUsage, "cannot write " + pub);
  }
  std::printf("%s key id %s\n  private: %s\n  public:  %s\n", role->c_str(),
              key->public_key().id().c_str(), priv.c_str(), pub.c_str());
  return kOk;
}

}  // namespace rollout::ctl
