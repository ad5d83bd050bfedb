// users add and token create: the accounts rolloutctl and the Updates page log in with.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "tools/rolloutctl/api.hpp"
#include "tools/rolloutctl/commands.hpp"

namespace rollout::ctl {

namespace bj = boost::json;

namespace {

constexpr const char* kUsersHelp =
    "usage: rolloutctl users add NAME --role viewer|operator|admin\n"
    "                            [--new-password-file F] [server options]\n"
    "\n"
    "Creates a user (admin only). The new user's password is the first line of F, or of\n"
    "standard input when --new-password-file is not given (at least 12 characters).\n";

constexpr const char* kTokenHelp =
    "usage: rolloutctl token create --name N [server options]\n"
    "\n"
    "Creates an API token for the authenticated user and prints it once on standard output.\n"
    "Use it as --token or ROLLOUT_TOKEN; it carries that user's role.\n";

Expected<std::string> read_first_line(std::istream& in, const std::string& what) {
  std::string line;
  if (!std::getline(in, line)) return make_error("usage", "cannot read a password from " + what);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

}  // namespace

int users(const std::vector<std::string>& argv) {
  auto args = Args::parse(argv, with_server_flags({{"role", "new-password-file"}, {}, 0, 2}));
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help") || args->positional().empty()) {
    std::printf("%s\n%s", kUsersHelp, kServerFlagsHelp);
    return args->has("help") ? kOk : kUsage;
  }
  if (args->positional()[0] != "add") {
    return fail(kUsage, "unknown users command '" + args->positional()[0] + "' (try 'add')");
  }
  if (args->positional().size() != 2) return fail(kUsage, "missing the new user's NAME");
  const std::string name = args->positional()[1];
  auto role = args->require("role");
  if (!role) return fail(kUsage, role.error().message);
  if (*role != "viewer" && *role != "operator" && *role != "admin") {
    return fail(kUsage, "--role must be viewer, operator or admin");
  }
  Expected<std::string> password = std::string();
  if (auto file = args->get("new-password-file")) {
    std::ifstream f(*file);
    password = read_first_line(f, *file);
  } else {
    password = read_first_line(std::cin, "standard input");
  }
  if (!password) return fail(kUsage, password.error().message);
  if (password->size() < 12) return fail(kUsage, "the password must be at least 12 characters");
  auto client = ApiClient::from_args(*args);
  if (!client) return report_error(client.error());
  auto answer = client->call(
      "POST", "/api/users",
      bj::serialize(bj::object{{"username", name}, {"password", *password}, {"role", *role}}));
  if (!answer) return report_error(answer.error());
  if (answer->status != 201 && answer->status != 200) return report_refusal(*answer);
  std::printf("user %s added with role %s\n", name.c_str(), role->c_str());
  return kOk;
}

int token(const std::vector<std::string>& argv) {
  auto args = Args::parse(argv, with_server_flags({{"name"}, {}, 0, 1}));
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help") || args->positional().empty()) {
    std::printf("%s\n%s", kTokenHelp, kServerFlagsHelp);
    return args->has("help") ? kOk : kUsage;
  }
  if (args->positional()[0] != "create") {
    return fail(kUsage, "unknown token command '" + args->positional()[0] + "' (try 'create')");
  }
  auto name = args->require("name");
  if (!name) return fail(kUsage, name.error().message);
  auto client = ApiClient::from_args(*args);
  if (!client) return report_error(client.error());
  auto answer = client->call("POST", "/api/tokens", bj::serialize(bj::object{{"name", *name}}));
  if (!answer) return report_error(answer.error());
  if (answer->status != 201 && answer->status != 200) return report_refusal(*answer);
  std::printf("%s\n", std::string(answer->body.at("token").as_string()).c_str());
  return kOk;
}

}  // namespace rollout::ctl
