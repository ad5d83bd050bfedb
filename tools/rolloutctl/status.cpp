// status: the Updates table in the terminal, coloured like the page when stdout is a terminal.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "tools/rolloutctl/api.hpp"
#include "tools/rolloutctl/commands.hpp"

namespace rollout::ctl {

namespace bj = boost::json;

namespace {

constexpr const char* kHelp =
    "usage: rolloutctl status [--json] [--no-color] [server options]\n"
    "\n"
    "Prints one row per release, newest version first: version, os/arch, channel, health,\n"
    "success rate (successes/attempts), agents on it per channel, and whether it can be\n"
    "promoted. Colours are used when standard output is a terminal and NO_COLOR is unset.\n";

std::string str(const bj::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t num(const bj::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return 0;
}

bool flag(const bj::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

const char* health_colour(const std::string& status) {
  if (status == "healthy") return "\033[32m";
  if (status == "warning") return "\033[33m";
  if (status == "critical") return "\033[31m";
  if (status == "blocked") return "\033[1;31m";
  return "\033[90m";
}

struct Row {
  std::vector<std::string> cells;
  std::vector<const char*> colours;  // per cell, nullptr = none
};

}  // namespace

int status(const std::vector<std::string>& argv) {
  auto args = Args::parse(argv, with_server_flags({{}, {"json", "no-color"}, 0, 0}));
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help")) {
    std::printf("%s\n%s", kHelp, kServerFlagsHelp);
    return kOk;
  }
  auto client = ApiClient::from_args(*args);
  if (!client) return report_error(client.error());
  auto answer = client->call("GET", "/api/updates/rollouts");
  if (!answer) return report_error(answer.error());
  if (answer->status != 200) return report_refusal(*answer);
  if (args->has("json")) {
    std::printf("%s\n", bj::serialize(answer->body).c_str());
    return kOk;
  }
  const bool colour =
      !args->has("no-color") && ::isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  std::vector<Row> rows;
  rows.push_back(
      {{"VERSION", "OS / ARCH", "CHANNEL", "HEALTH", "SUCCESS", "BETA", "STABLE", "PROMOTE"},
       std::vector<const char*>(8, nullptr)});
  bool stale = false;
  for (const auto& v : answer->body.at("rollouts").as_array()) {
    const auto& r = v.as_object();
    const auto& h = r.at("health").as_object();
    const std::string health = str(h, "status");
    const std::int64_t total = num(h, "total"), ok = num(h, "success");
    std::string rate = "-";
    if (total > 0) {
      rate = std::to_string(ok * 100 / total) + "% (" + std::to_string(ok) + "/" +
             std::to_string(total) + ")";
    }
    std::string promote = "-";
    const std::string channel = str(r, "channel");
    if (channel == "beta") {
      if (flag(r, "can_promote")) {
        promote = "yes";
      } else if (flag(r, "needs_force")) {
        promote = "force";
      } else {
        promote = "no";
      }
      const auto* blockers = r.if_contains("promote_blockers");
      if (promote != "yes" && blockers && blockers->is_array() && !blockers->as_array().empty()) {
        promote += ": " + str(blockers->as_array()[0].as_object(), "code");
      }
    }
    const char* rate_colour = total == 0               ? nullptr
                              : ok * 100 >= 95 * total ? "\033[32m"
                              : ok * 100 >= 80 * total ? "\033[33m"
                                                       : "\033[31m";
    rows.push_back(
        {{str(r, "version"), str(r, "os") + " / " + str(r, "arch"), channel, health, rate,
          std::to_string(num(r, "beta_agents")), std::to_string(num(r, "stable_agents")), promote},
         {nullptr, nullptr, channel == "beta" ? "\033[34m" : "\033[35m", health_colour(health),
          rate_colour, nullptr, nullptr, nullptr}});
    stale = stale || flag(r, "stale_stable");
  }
  if (rows.size() == 1) {
    std::printf("No rollouts yet. Publish a release with 'rolloutctl publish'.\n");
    return kOk;
  }
  std::vector<std::size_t> width(8, 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      width[i] = std::max(width[i], row.cells[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      std::string cell = row.cells[i];
      cell.resize(i + 1 == row.cells.size() ? cell.size() : width[i] + 2, ' ');
      if (colour && row.colours[i]) {
        line += std::string(row.colours[i]) + cell + "\033[0m";
      } else {
        line += cell;
      }
    }
    std::printf("%s\n", line.c_str());
  }
  if (stale) {
    std::printf("\nwarning: stable has fallen behind beta for longer than the configured time\n");
  }
  return kOk;
}

}  // namespace rollout::ctl
