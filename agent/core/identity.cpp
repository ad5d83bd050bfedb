#include "agent/identity.hpp"

#include <boost/json.hpp>

#include "common/json.hpp"

namespace rollout::agent {

Expected<std::optional<Identity>> load_identity(platform::FileSystem& fs, const std::string& path) {
  auto info = fs.stat_no_follow(path);
  if (!info && info.error().code == "not_found") return std::optional<Identity>{};
  if (!info) return info.error();
  if (info->type != platform::FileType::regular || (info->mode & 077) != 0) {
    return make_error("invalid_identity",
                      path + " must be a regular file readable only by its owner (mode 0600)");
  }
  auto text = platform::read_whole_file(fs, path, 4096);
  if (!text) return make_error("invalid_identity", text.error().message);
  auto obj = json::parse_object(*text, "identity");
  if (!obj) return make_error("invalid_identity", path + ": " + obj.error().message);
  json::Reader r(*obj, "identity");
  Identity id{r.string("agent_id", 128), r.string("token", 512)};
  r.no_unknown_keys();
  if (!r.ok()) return make_error("invalid_identity", path + ": " + r.error().message);
  return std::optional<Identity>(std::move(id));
}

Status save_identity(platform::FileSystem& fs, const std::string& path, const Identity& id) {
  const std::string text =
      boost::json::serialize(boost::json::object{{"agent_id", id.agent_id}, {"token", id.token}});
  return platform::atomic_write_file(fs, path, text + "\n", 0600);
}

}  // namespace rollout::agent
