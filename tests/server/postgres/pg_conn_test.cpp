// pg::Conn against the real cluster: URLs, TLS, typed results, prepared statements, and how
// PostgreSQL's failures become the project's error codes.
#include "server-plugin/store/postgres/pg_conn.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::server::pg {
namespace {

using testing::PgCluster;

class PgConn : public ::testing::Test {
 protected:
  PgCluster& cluster = PgCluster::get();
  const std::string db = cluster.create_database();

  Conn open() {
    auto c = Conn::open(cluster.url(db));
    if (!c) throw std::runtime_error(c.error().message);
    return std::move(c).value();
  }
};

TEST_F(PgConn, RunsParameterisedStatementsWithTypedResults) {
  Conn c = open();
  auto r = c.query("SELECT $1::BIGINT + 1 AS n, $2::TEXT AS s, $3::BIGINT AS z, $4::BOOLEAN AS b",
                   Params(std::int64_t{41}, "it's'; DROP TABLE x; --", std::nullopt, true));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->rows(), 1);
  EXPECT_EQ(*r->i64(0, r->column("n")), 42);
  EXPECT_EQ(r->text(0, r->column("s")), "it's'; DROP TABLE x; --");
  EXPECT_EQ(*r->opt_i64(0, r->column("z")), std::nullopt);
  EXPECT_TRUE(r->is_null(0, 2));
  EXPECT_EQ(r->opt_text(0, 2), std::nullopt);
  EXPECT_TRUE(*r->boolean(0, 3));
  EXPECT_EQ(r->column("nope"), -1);

  ASSERT_TRUE(c.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT)"));
  auto ins = c.query("INSERT INTO t VALUES ($1, $2), ($3, $4)", Params("a", 1, "b", 2));
  ASSERT_TRUE(ins) << ins.error().message;
  EXPECT_EQ(ins->affected(), 2);
}

TEST_F(PgConn, TypedGettersNameTheColumnWhenACellIsNotWhatWasAsked) {
  Conn c = open();
  auto r = c.exec(
      "SELECT 'abc' AS word, '12x' AS tail, '99999999999999999999' AS big, NULL::BIGINT AS nil, "
      "'yes' AS flag");
  ASSERT_TRUE(r) << r.error().message;
  for (const char* col : {"word", "tail", "big", "nil"}) {
    auto v = r->i64(0, r->column(col));
    ASSERT_FALSE(v) << col;
    EXPECT_EQ(v.error().code, "storage");
    EXPECT_NE(v.error().message.find(std::string("column '") + col + "'"), std::string::npos)
        << v.error().message;
  }
  EXPECT_FALSE(r->boolean(0, r->column("flag")));
  EXPECT_EQ(r->i64(5, 0).error().code, "internal");
  EXPECT_EQ(r->i64(0, 9).error().code, "internal");
}

TEST_F(PgConn, ANamedStatementIsPreparedOncePerConnection) {
  Conn c = open();
  for (int i = 1; i <= 3; ++i) {
    auto r = c.prepared("double", "SELECT $1::BIGINT * 2", Params(i));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r->i64(0, 0), 2 * i);
  }
  auto n = c.exec("SELECT count(*) FROM pg_prepared_statements WHERE name = 'double'");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n->i64(0, 0), 1);
  auto other = c.prepared("double", "SELECT $1::BIGINT * 3", Params(1));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, "internal");
  EXPECT_NE(other.error().message.find("'double'"), std::string::npos);
  // A statement that does not parse is not remembered, so a fixed one can take the name.
  EXPECT_FALSE(c.prepared("broken", "SELEKT 1"));
  EXPECT_TRUE(c.prepared("broken", "SELECT 1"));
}

TEST_F(PgConn, ServerErrorsMapToTheProjectsCodes) {
  Conn c = open();
  ASSERT_TRUE(c.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT NOT NULL CHECK (v >= 0))"));
  ASSERT_TRUE(c.query("INSERT INTO t VALUES ($1, $2)", Params("a", 1)));

  auto dup = c.query("INSERT INTO t VALUES ($1, $2)", Params("a", 2));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, "unique_violation");
  EXPECT_NE(dup.error().message.find("t_pkey"), std::string::npos) << dup.error().message;

  auto null = c.query("INSERT INTO t VALUES ($1, $2)", Params("b", std::nullopt));
  ASSERT_FALSE(null);
  EXPECT_EQ(null.error().code, "constraint");
  auto check = c.query("INSERT INTO t VALUES ($1, $2)", Params("b", -1));
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().code, "constraint");

  auto syntax = c.exec("SELEKT 1");
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().code, "storage");
  EXPECT_NE(syntax.error().message.find("SQLSTATE 42601"), std::string::npos);

  auto deadlock = c.exec("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$");
  ASSERT_FALSE(deadlock);
  EXPECT_EQ(deadlock.error().code, "conflict");
  EXPECT_NE(deadlock.error().message.find("retry"), std::string::npos);
}

TEST_F(PgConn, ASerializationFailureIsAConflict) {
  Conn a = open();
  Conn b = open();
  ASSERT_TRUE(
      a.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT); INSERT INTO t VALUES ('x', 0)"));
  ASSERT_TRUE(a.exec("BEGIN ISOLATION LEVEL REPEATABLE READ"));
  ASSERT_TRUE(a.exec("SELECT v FROM t"));  // a's snapshot is taken here
  ASSERT_TRUE(b.exec("UPDATE t SET v = v + 1"));
  auto late = a.exec("UPDATE t SET v = v + 1");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, "conflict") << late.error().message;
  EXPECT_TRUE(a.in_transaction());
  ASSERT_TRUE(a.exec("ROLLBACK"));
  EXPECT_FALSE(a.in_transaction());
  EXPECT_TRUE(a.usable());
}

TEST_F(PgConn, ALostConnectionIsAStorageErrorAndMarksItUnusable) {
  Conn victim = open();
  Conn admin = open();
  ASSERT_TRUE(victim.exec("SELECT 1"));
  auto killed = admin.query("SELECT pg_terminate_backend($1, 30000)", Params(victim.backend_pid()));
  ASSERT_TRUE(killed) << killed.error().message;
  ASSERT_TRUE(*killed->boolean(0, 0));
  auto r = victim.exec("SELECT 1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "storage");
  EXPECT_NE(r.error().message.find("connection to the database 127.0.0.1:"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("lost"), std::string::npos);
  EXPECT_FALSE(victim.usable());
  EXPECT_FALSE(victim.probe());
}

TEST_F(PgConn, AWrongPasswordIsRefusedWithoutRepeatingIt) {
  std::string url = cluster.url(db);
  const auto at = url.find('@');
  url = "postgresql://rollout_test:Wr0ngSecret" + url.substr(at);
  auto c = Conn::open(url);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "storage");
  EXPECT_NE(c.error().message.find("cannot connect"), std::string::npos);
  EXPECT_NE(c.error().message.find("password authentication failed"), std::string::npos)
      << c.error().message;
  EXPECT_EQ(c.error().message.find("Wr0ngSecret"), std::string::npos);
}

TEST_F(PgConn, TheUnixSocketTrustsTheTestUser) {
  auto c = Conn::open(cluster.socket_url(db));
  ASSERT_TRUE(c) << c.error().message;
  auto r = c->exec("SELECT current_database()");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(0, 0), db);
}

TEST_F(PgConn, VerifyFullGivesTlsToTheDatabaseAndRefusesAWrongCaOrName) {
  auto c =
      Conn::open(cluster.url(db, "sslmode=verify-full&sslrootcert=" + cluster.ca_file().string()));
  ASSERT_TRUE(c) << c.error().message;
  auto r = c->exec("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(*r->boolean(0, 0));

  auto wrong_ca = Conn::open(
      cluster.url(db, "sslmode=verify-full&sslrootcert=" + cluster.other_ca_file().string()));
  ASSERT_FALSE(wrong_ca);
  EXPECT_EQ(wrong_ca.error().code, "storage");
  EXPECT_NE(wrong_ca.error().message.find("certificate verify failed"), std::string::npos)
      << wrong_ca.error().message;

  // The certificate names 127.0.0.1 only: reaching the same address as "localhost" is refused.
  auto wrong_name = Conn::open(
      cluster.url(db, "sslmode=verify-full&host=localhost&hostaddr=127.0.0.1&sslrootcert=" +
                          cluster.ca_file().string()));
  ASSERT_FALSE(wrong_name);
  EXPECT_NE(wrong_name.error().message.find("localhost"), std::string::npos)
      << wrong_name.error().message;

  // Without sslmode a plain connection is still possible: TLS is the URL's choice.
  auto plain = Conn::open(cluster.url(db, "sslmode=disable"));
  ASSERT_TRUE(plain) << plain.error().message;
  auto p = plain->exec("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  ASSERT_TRUE(p);
  EXPECT_FALSE(*p->boolean(0, 0));
}

TEST(PgUrl, GarbageIsRefusedNamingTheFieldAndNeverThePassword) {
  const std::string cases[] = {
      "",
      "mysql://u:s3cret@127.0.0.1/db",
      "postgresql://u:s3cret@[::1/db",
      "postgresql://u:s3cret@127.0.0.1/db?sslmode",
      "postgresql://u:s3cret@127.0.0.1/db?nosuchoption=1",
      "postgresql://u:s3cret@127.0.0.1/db\nsslmode=disable",
      "postgresql://u:s3cret@127.0.0.1/" + std::string(kMaxUrlLength, 'd'),
      std::string("postgresql://u:s3cret@127.0.0.1/d\0b", 35),
  };
  for (const auto& url : cases) {
    auto st = check_url(url);
    ASSERT_FALSE(st) << url;
    EXPECT_EQ(st.error().code, "invalid_url") << url;
    EXPECT_EQ(st.error().message.rfind("database_url: ", 0), 0u) << st.error().message;
    EXPECT_EQ(st.error().message.find("s3cret"), std::string::npos) << st.error().message;
    auto c = Conn::open(url);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, "invalid_url");
  }
  EXPECT_TRUE(check_url("postgresql://u:p@127.0.0.1:5432/db?sslmode=verify-full"));
  EXPECT_TRUE(check_url("postgres:///db?host=/run/postgresql"));
}

}  // namespace
}  // namespace rollout::server::pg
