#include <cstdio>

#include "common/files.hpp"
#include "common/release.hpp"
#include "tools/rolloutctl/args.hpp"
#include "tools/rolloutctl/commands.hpp"
#include "tools/rolloutctl/release_files.hpp"

namespace rollout::ctl {

namespace {
constexpr const char* kHelp =
    "usage: rolloutctl verify --pubkey P [--pubkey P2 ...] MANIFEST [--artifact F]\n"
    "\n"
    "Verifies the manifest's signature with any of the given release public keys and checks\n"
    "its fields; with --artifact also checks the artifact's size and SHA-256.\n"
    "Exit 0 verified, 1 verification failed, 2 usage or input error.\n";
}

int verify(const std::vector<std::string>& argv) {
  auto args = Args::parse(argv, {{"pubkey", "artifact"}, {"help"}, 1, 1});
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help")) {
    std::fputs(kHelp, stdout);
    return kOk;
  }
  const auto keys = args->all("pubkey");
  if (keys.empty()) return fail(kUsage, "missing --pubkey (see --help)");
  auto ring = KeyRing::load(keys);
  if (!ring) return fail(kUsage, ring.error().message);
  const std::string path = args->positional()[0];
  auto text = read_file_capped(path, kMaxEnvelopeBytes);
  if (!text) {
    return fail(text.error().code == "too_large" ? kVerifyFailed : kUsage, text.error().message);
  }
  auto release = verify_release(*text, *ring);
  if (!release) return fail(kVerifyFailed, "verification failed: " + release.error().message);
  const auto& m = release->manifest;
  if (auto artifact = args->get("artifact")) {
    auto digest = digest_file(*artifact);
    if (!digest) return fail(kUsage, digest.error().message);
    if (digest->size != m.size) {
      return fail(kVerifyFailed, "verification failed: artifact is " +
                                     std::to_string(digest->size) + " bytes, the manifest says " +
                                     std::to_string(m.size));
    }
    if (digest->sha256_hex != m.sha256) {
      return fail(kVerifyFailed, "verification failed: artifact SHA-256 " + digest->sha256_hex +
                                     " does not match the manifest's " + m.sha256);
    }
  }
  std::printf("verified %s %s %s/%s size %llu sha256 %s security_version %llu created_at %s%s\n",
              m.product.c_str(), m.version.str().c_str(), m.os.c_str(), m.arch.c_str(),
              static_cast<unsigned long long>(m.size), m.sha256.c_str(),
              static_cast<unsigned long long>(m.security_version),
              format_rfc3339(m.created_at).c_str(),
              args->get("artifact") ? " (artifact matches)" : "");
  return kOk;
}

}  // namespace rollout::ctl
