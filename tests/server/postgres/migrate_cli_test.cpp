// `rollout-server migrate`: the argument parser, and the built binary run as a child process
// with its summary and exit codes (0 migrated, 1 refused or failed, 2 bad usage).
#include "server-plugin/migrate/migrate_cli.hpp"

#include "tests/server/postgres/migrate_fixture.hpp"

namespace rollout::server {
namespace {

using migrate_testing::MigrateFixture;

TEST(MigrateArgs, ParsesTheSourceTargetAndDataDir) {
  auto a = migrate::parse_args({"--from", "sqlite:/var/lib/rollout/rollout.db", "--to",
                                "postgresql://u@127.0.0.1/db", "--from-data-dir", "/srv/r"});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->sqlite_path, "/var/lib/rollout/rollout.db");
  EXPECT_EQ(a->pg_url, "postgresql://u@127.0.0.1/db");
  EXPECT_EQ(a->data_dir, "/srv/r");
  auto b = migrate::parse_args({"--to", "postgres://h/db", "--from", "sqlite:r.db"});
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->data_dir);
  EXPECT_TRUE(b->artifacts_to_database);
  auto c = migrate::parse_args(
      {"--from", "sqlite:r.db", "--to", "postgresql://h/db", "--artifacts", "local"});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->artifacts_to_database);
  EXPECT_TRUE(migrate::parse_args({"--help"}).value().help);
}

TEST(MigrateArgs, RefusesMissingAndBadArguments) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"--from", "sqlite:r.db"},
      {"--to", "postgresql://h/db"},
      {"--from", "r.db", "--to", "postgresql://h/db"},
      {"--from", "sqlite:", "--to", "postgresql://h/db"},
      {"--from", "sqlite::memory:", "--to", "postgresql://h/db"},
      {"--from", "sqlite:r.db", "--to", "mysql://h/db"},
      {"--from", "sqlite:r.db", "--to"},
      {"--from", "sqlite:r.db", "--to", "postgresql://h/db", "--bogus"},
      {"--from", "sqlite:r.db", "--to", "postgresql://h/db", "--artifacts", "s3"},
      {"--from", "sqlite:r.db", "--to", "postgresql://h/db", "--artifacts"},
  };
  for (const auto& args : bad) {
    auto r = migrate::parse_args(args);
    ASSERT_FALSE(r.ok()) << ::testing::PrintToString(args);
    EXPECT_EQ(r.error().code, "usage");
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST_F(MigrateFixture, TheBinaryMigratesPrintsASummaryAndRefusesASecondRun) {
  const std::string bin = ROLLOUT_SERVER_PATH;
  auto usage = testing::run({bin, "migrate", "--from", "sqlite:" + sqlite_path()});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  EXPECT_NE(usage.err.find("--to"), std::string::npos) << usage.err;
  auto help = testing::run({bin, "migrate", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--from-data-dir"), std::string::npos);
  EXPECT_NE(testing::run({bin, "--help"}).out.find("migrate"), std::string::npos);

  auto ok = testing::run({bin, "migrate", "--from", "sqlite:" + sqlite_path(), "--to", pg_url_});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("releases"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("sessions"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("verified"), std::string::npos) << ok.out;
  EXPECT_EQ(ok.out.find("password"), std::string::npos) << "no secret in the summary";

  auto again = testing::run({bin, "migrate", "--from", "sqlite:" + sqlite_path(), "--to", pg_url_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already holds data"), std::string::npos) << again.err;

  auto missing = testing::run(
      {bin, "migrate", "--from", "sqlite:" + (dir_ / "none.db").string(), "--to", pg_url_});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no SQLite database"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace rollout::server
