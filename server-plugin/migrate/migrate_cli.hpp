// `rollout-server migrate ...`: the command line of moving up (sqlite_to_pg.hpp). The arguments'
// parser on its own (tests call it), and the command, which prints the summary to stdout and
// errors to stderr. Exit codes as rollout-server's: 0 migrated and verified, 1 the migration
// failed or was refused (nothing written), 2 bad usage. Call from one thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace rollout::server::migrate {

extern const char* const kMigrateHelp;

struct Args {
  bool help = false;
  std::string sqlite_path;              // --from sqlite:PATH
  std::string pg_url;                   // --to postgresql://...
  std::optional<std::string> data_dir;  // --from-data-dir DIR (default: the SQLite file's dir)
  bool artifacts_to_database = true;    // --artifacts database (default) | local
};

// `args` are the words after "migrate". Errors (code "usage") say what is wrong.
Expected<Args> parse_args(const std::vector<std::string>& args);

// Runs the command; returns the exit code.
int run_command(const std::vector<std::string>& args);

}  // namespace rollout::server::migrate
