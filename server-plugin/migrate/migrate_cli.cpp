// `rollout-server migrate`: arguments, summary and exit codes (migrate_cli.hpp).
#include "server-plugin/migrate/migrate_cli.hpp"

#include <cstdio>
#include <ctime>
#include <filesystem>

#include "server-plugin/migrate/sqlite_to_pg.hpp"
#include "server-plugin/store/postgres/pg_conn.hpp"

namespace rollout::server::migrate {

const char* const kMigrateHelp =
    "usage: rollout-server migrate --from sqlite:PATH --to postgresql://URL [--from-data-dir DIR]\n"
    "                              [--artifacts database|local]\n"
    "\n"
    "Moves a server's data from its SQLite database to a new, empty PostgreSQL database: every\n"
    "release, agent, attempt, policy, user, API token, audit event, webhook and log row, ids\n"
    "kept, in one transaction, verified (row counts, the rollouts view) before it commits.\n"
    "Browser sessions and login rate limits are not copied (operators sign in again). Refuses a\n"
    "target that holds any data. Stop the server first; its SQLite schema is upgraded as on\n"
    "start. Every release's artifact must be in DIR/artifacts (DIR: the server's data_dir,\n"
    "default the directory of PATH). --artifacts database (the default, for artifact_store:\n"
    "auto on PostgreSQL) copies them into the target database, each checked against its\n"
    "release's SHA-256; --artifacts local leaves the files for servers sharing DIR\n"
    "(artifact_store: local).\n"
    "Exit codes: 0 migrated, 1 failed or refused (nothing written), 2 bad usage.\n";

Expected<Args> parse_args(const std::vector<std::string>& args) {
  Args out;
  const auto usage = [](const std::string& msg) { return make_error("usage", msg); };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out.help = true;
      return out;
    }
    if (a != "--from" && a != "--to" && a != "--from-data-dir" && a != "--artifacts") {
      return usage("unknown argument '" + a + "' (see migrate --help)");
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) return usage(a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--from") {
      if (v.rfind("sqlite:", 0) != 0 || v.size() == 7 || v == "sqlite::memory:") {
        return usage("--from must be sqlite:PATH, the server's database file");
      }
      out.sqlite_path = v.substr(7);
    } else if (a == "--to") {
      if (v.rfind("postgresql://", 0) != 0 && v.rfind("postgres://", 0) != 0) {
        return usage("--to must be a postgresql:// URL");
      }
      if (auto st = pg::check_url(v); !st) return usage("--to: " + st.error().message);
      out.pg_url = v;
    } else if (a == "--artifacts") {
      if (v != "database" && v != "local") return usage("--artifacts must be database or local");
      out.artifacts_to_database = v == "database";
    } else {
      out.data_dir = v;
    }
  }
  if (out.sqlite_path.empty()) return usage("missing --from sqlite:PATH (see migrate --help)");
  if (out.pg_url.empty()) return usage("missing --to postgresql://URL (see migrate --help)");
  return out;
}

int run_command(const std::vector<std::string>& argv) {
  auto args = parse_args(argv);
  if (!args) {
    std::fprintf(stderr, "rollout-server migrate: %s\n", args.error().message.c_str());
    return 2;
  }
  if (args->help) {
    std::fputs(kMigrateHelp, stdout);
    return 0;
  }
  Options o;
  o.sqlite_path = args->sqlite_path;
  o.pg_url = args->pg_url;
  o.data_dir = args->data_dir ? std::filesystem::path(*args->data_dir)
                              : std::filesystem::path(o.sqlite_path).parent_path();
  if (o.data_dir.empty()) o.data_dir = ".";
  o.now = static_cast<std::int64_t>(std::time(nullptr));
  o.artifacts_to_database = args->artifacts_to_database;
  auto report = sqlite_to_pg(o);
  if (!report) {
    std::fprintf(stderr, "rollout-server migrate: %s\n", report.error().message.c_str());
    return 1;
  }
  std::printf("migrated sqlite:%s to %s\n", o.sqlite_path.c_str(), report->target.c_str());
  for (const auto& t : report->copied) {
    std::printf("  %-20s %10lld%s%s\n", t.table.c_str(), static_cast<long long>(t.rows),
                t.note.empty() ? "" : "  ", t.note.c_str());
  }
  for (const auto& t : report->left_out) {
    std::printf("  %-20s %10lld  not copied: %s\n", t.table.c_str(), static_cast<long long>(t.rows),
                t.note.c_str());
  }
  if (report->artifacts_in_database) {
    std::printf("  %-20s %10lld  in the target database (%lld copied by this run)\n", "artifacts",
                static_cast<long long>(report->artifacts),
                static_cast<long long>(report->artifacts_copied));
  } else {
    std::printf("  %-20s %10lld  present in %s (the files stay there)\n", "artifacts",
                static_cast<long long>(report->artifacts), (o.data_dir / "artifacts").c_str());
  }
  std::printf("verified: row counts and the rollouts view are equal\n");
  return 0;
}

}  // namespace rollout::server::migrate
