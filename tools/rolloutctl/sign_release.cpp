#include <chrono>
#include <cstdio>
#include <fstream>

#include "common/crypto.hpp"
#include "common/release.hpp"
#include "tools/rolloutctl/args.hpp"
#include "tools/rolloutctl/commands.hpp"
#include "tools/rolloutctl/release_files.hpp"

namespace rollout::ctl {

namespace {
constexpr const char* kHelp =
    "usage: rolloutctl sign-release --key K --artifact F --version V --os O --arch A\n"
    "                               --security-version N [--product P] --out M\n"
    "\n"
    "Streams the artifact to compute its size and SHA-256, then writes a release manifest\n"
    "signed with the release private key K to M.\n"
    "  --os linux|windows   --arch x86_64|aarch64\n"
    "  --security-version   raise only when this release fixes a vulnerability: agents never\n"
    "                       downgrade below the highest security version they have committed\n"
    "  --product            default rollout-agent\n";
}

int sign_release(const std::vector<std::string>& argv) {
  auto args = Args::parse(
      argv, {{"key", "artifact", "version", "os", "arch", "security-version", "product", "out"},
             {"help"},
             0,
             0});
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help")) {
    std::fputs(kHelp, stdout);
    return kOk;
  }
  for (const char* required :
       {"key", "artifact", "version", "os", "arch", "security-version", "out"}) {
    if (auto v = args->require(required); !v) return fail(kUsage, v.error().message);
  }
  ReleaseManifest m;
  auto version = SemVer::parse(*args->get("version"));
  if (!version) return fail(kUsage, version.error().message);
  m.version = *version;
  m.os = *args->get("os");
  if (!valid_os(m.os)) return fail(kUsage, "--os must be linux or windows");
  m.arch = *args->get("arch");
  if (!valid_arch(m.arch)) return fail(kUsage, "--arch must be x86_64 or aarch64");
  const std::string sv = *args->get("security-version");
  if (sv.empty() || sv.size() > 9 || sv.find_first_not_of("0123456789") != std::string::npos) {
    return fail(kUsage, "--security-version must be a non-negative integer");
  }
  m.security_version = std::stoull(sv);
  if (auto p = args->get("product")) m.product = *p;
  auto key = crypto::load_private_key(*args->get("key"));
  if (!key) return fail(kUsage, key.error().message);
  auto digest = digest_file(*args->get("artifact"));
  if (!digest) return fail(kUsage, digest.error().message);
  if (digest->size == 0 || digest->size > kMaxArtifactSize) {
    return fail(kUsage, "artifact must be between 1 byte and 8 GiB");
  }
  m.size = digest->size;
  m.sha256 = digest->sha256_hex;
  m.created_at =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::string payload = m.to_payload();
  if (auto check = parse_release_payload(payload); !check)
    return fail(kUsage, check.error().message);
  auto env = sign_envelope(std::string(kReleasePayloadType), payload, {*key});
  if (!env) return fail(kUsage, env.error().message);
  const std::string out = *args->get("out");
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f << serialize_envelope(*env) << '\n';
  f.close();
  if (!f) return fail(kUsage, "cannot write " + out);
  std::printf("signed %s %s %s/%s size %llu sha256 %s\n  manifest: %s\n", m.product.c_str(),
              m.version.str().c_str(), m.os.c_str(), m.arch.c_str(),
              static_cast<unsigned long long>(m.size), m.sha256.c_str(), out.c_str());
  return kOk;
}

}  // namespace rollout::ctl
