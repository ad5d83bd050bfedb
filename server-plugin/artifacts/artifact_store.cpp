// The parts of the artifact store every backend shares, and the choice of backend from the
// config (the one place that knows them all).
#include "server-plugin/artifacts/artifact_store.hpp"

#include <filesystem>

#include "server-plugin/artifacts/local_artifacts.hpp"
#include "server-plugin/config.hpp"
#include "server-plugin/store.hpp"

namespace rollout::server::artifacts {

bool valid_name(const std::string& sha256) {
  return sha256.size() == 64 && sha256.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Status ArtifactStore::attach(const std::string& sha256, std::uint64_t offset, std::uint64_t length,
                             http::Response& r) {
  auto source = read(sha256, offset, length);
  if (!source) return source.error();
  r.source = std::move(source.value());
  return {};
}

Expected<std::unique_ptr<ArtifactStore>> open_artifact_store(const ServerConfig& cfg,
                                                             Store& store) {
  if (cfg.artifact_store != "auto" && cfg.artifact_store != "local" &&
      cfg.artifact_store != "database") {
    return make_error("invalid_config", "artifact_store must be auto, local or database, not '" +
                                            cfg.artifact_store.substr(0, 40) + "'");
  }
  if (artifacts_in_database(cfg)) return store.database_artifacts();
  return std::unique_ptr<ArtifactStore>(std::make_unique<LocalArtifactStore>(
      (std::filesystem::path(cfg.data_dir) / "artifacts").string()));
}

}  // namespace rollout::server::artifacts
