// pg_tests runs the store suites (tests/server/suites/) against PostgreSQL: each parameter is a
// fresh database on the program's cluster (tests/testing/postgres/pg_cluster.hpp), over TCP
// with a password as a server would connect. Raw SQL behind the store's back over libpq.
#include "server-plugin/store/postgres/pg_conn.hpp"
#include "tests/server/store_backends.hpp"
#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::testing {

std::vector<Backend> store_backends() {
  return {Backend{"postgres", [](const std::filesystem::path&) {
                    auto& cluster = PgCluster::get();
                    return cluster.url(cluster.create_database());
                  }}};
}

Status run_sql(const std::string& url, const std::string& statements) {
  auto c = server::pg::Conn::open(url);
  if (!c) return c.error();
  if (auto r = c->exec(statements); !r) return r.error();
  return {};
}

std::int64_t count_rows(const std::string& url, const std::string& table) {
  auto c = server::pg::Conn::open(url);
  EXPECT_TRUE(c) << c.error().message;
  if (!c) return -1;
  auto r = c->exec("SELECT count(*) FROM " + table);
  EXPECT_TRUE(r) << r.error().message;
  if (!r) return -1;
  auto n = r->i64(0, 0);
  EXPECT_TRUE(n) << n.error().message;
  return n ? *n : -1;
}

std::string refuse_inserts_sql(const std::string& table, const std::string& message) {
  const std::string fn = "test_refuse_" + table;
  return "CREATE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE " +
         "EXCEPTION '" + message + "'; END $$; CREATE TRIGGER " + fn + " BEFORE INSERT ON " +
         table + " FOR EACH ROW EXECUTE FUNCTION " + fn + "();";
}

}  // namespace rollout::testing
