#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/encoding.hpp"
#include "common/files.hpp"
#include "common/release.hpp"
#include "tools/rolloutctl/api.hpp"
#include "tools/rolloutctl/commands.hpp"

namespace rollout::ctl {

namespace bj = boost::json;

namespace {
constexpr const char* kHelp =
    "usage: rolloutctl publish --manifest M --artifact F [server options]\n"
    "\n"
    "Uploads a signed release (manifest from 'rolloutctl sign-release' and its artifact). The\n"
    "server verifies the signature with its release keys and the artifact's size and SHA-256;\n"
    "the release starts on the beta channel.\n";
}

int publish(const std::vector<std::string>& argv) {
  auto args = Args::parse(argv, with_server_flags({{"manifest", "artifact"}, {}, 0, 0}));
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help")) {
    std::printf("%s\n%s", kHelp, kServerFlagsHelp);
    return kOk;
  }
  auto manifest_path = args->require("manifest");
  if (!manifest_path) return fail(kUsage, manifest_path.error().message);
  auto artifact_path = args->require("artifact");
  if (!artifact_path) return fail(kUsage, artifact_path.error().message);
  auto text = read_file_capped(*manifest_path, kMaxEnvelopeBytes);
  if (!text) return fail(kUsage, text.error().message);
  auto env = parse_envelope(*text);
  if (!env) return fail(kUsage, *manifest_path + ": " + env.error().message);
  auto artifact = read_file_capped(*artifact_path, kMaxArtifactSize);
  if (!artifact) return fail(kUsage, artifact.error().message);
  auto client = ApiClient::from_args(*args);
  if (!client) return report_error(client.error());
  // The manifest travels in a header, so the server verifies it (and the announced size) before
  // it reads the artifact, which it streams to disk as it arrives.
  auto answer = client->call(
      "POST", "/api/updates/releases", *artifact,
      {{"Content-Type", "application/octet-stream"},
       {"X-Rollout-Manifest", encoding::base64(bj::serialize(envelope_to_json(*env)))}});
  if (!answer) return report_error(answer.error());
  if (answer->status != 201 && answer->status != 200) return report_refusal(*answer);
  const auto& o = answer->body.as_object();
  std::printf("published %s %s/%s on %s\n", std::string(o.at("version").as_string()).c_str(),
              std::string(o.at("os").as_string()).c_str(),
              std::string(o.at("arch").as_string()).c_str(),
              std::string(o.at("channel").as_string()).c_str());
  return kOk;
}

}  // namespace rollout::ctl
