// Benchmark (not a test): what one refresh of the Updates page costs the store with a large
// fleet, the way GET /api/updates/rollouts reads it, against the way it read it before migration 2
// (every attempt ranked for the all-time counts, every agent row loaded to resolve its channel).
// Both paths run on the same database in the same run; the numbers are printed, never asserted.
//
// usage: rollouts_bench AGENTS [REPS] [--postgres]
//   a fresh SQLite database in a temp dir, or with --postgres a fresh database on a throwaway
//   PostgreSQL 15 cluster this program starts on 127.0.0.1 and deletes at the end
//   (tests/testing/postgres/pg_cluster.hpp, as pg_tests does; needs postgresql-15). 50 releases
//   over four os/arch pairs, three reports per agent, the last third of them within the last 24 h.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "server-plugin/store.hpp"
#ifdef ROLLOUT_BENCH_POSTGRES
#include "tests/testing/postgres/pg_cluster.hpp"
#endif

namespace {

using rollout::server::Agent;
using rollout::server::Attempt;
using rollout::server::Store;

double median_ms(int reps, const std::function<void()>& fn) {
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

template <class T>
T must(rollout::Expected<T> v, const char* what) {
  if (!v) {
    std::fprintf(stderr, "rollouts_bench: %s: %s\n", what, v.error().message.c_str());
    std::exit(1);
  }
  return std::move(v).value();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const auto flag = std::find(args.begin(), args.end(), "--postgres");
  const bool postgres = flag != args.end();
  if (postgres) args.erase(flag);
  if (args.empty() || args.size() > 2 || std::atoi(args[0].c_str()) <= 0) {
    std::fprintf(stderr, "usage: rollouts_bench AGENTS [REPS] [--postgres]\n");
    return 2;
  }
  const int agents = std::atoi(args[0].c_str());
  const int reps = args.size() > 1 ? std::max(1, std::atoi(args[1].c_str())) : 5;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("rollouts-bench-" +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  std::string url = "sqlite:" + (dir / "b.db").string();
#ifdef ROLLOUT_BENCH_POSTGRES
  std::unique_ptr<rollout::testing::PgCluster> cluster;
  if (postgres) {
    try {
      cluster = rollout::testing::PgCluster::start_new();
      url = cluster->url(cluster->create_database());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rollouts_bench: PostgreSQL: %s\n", e.what());
      return 1;
    }
  }
#else
  if (postgres) {
    std::fprintf(stderr, "rollouts_bench: built without PostgreSQL (no libpq)\n");
    return 2;
  }
#endif
  std::printf("backend: %s\n", postgres ? "postgresql" : "sqlite");
  const char* pairs[][2] = {
      {"linux", "x86_64"}, {"linux", "aarch64"}, {"windows", "x86_64"}, {"windows", "aarch64"}};
  {
    auto store = must(rollout::server::open_store(url), "open");
    const auto t0 = std::chrono::steady_clock::now();
    auto st = store->transaction([&](rollout::server::Tx& tx) -> rollout::Status {
      for (int i = 0; i < agents; ++i) {
        const auto* pair = pairs[i % 4];
        Agent a;
        a.id = "agent-" + std::to_string(i);
        a.token_hash = "t-" + a.id;
        a.hostname = a.id;
        a.machine_id = "m-" + a.id;
        a.os = pair[0];
        a.arch = pair[1];
        a.current_version = "1." + std::to_string((i % 50) / 4) + ".0";
        a.client = "client-" + std::to_string(i % 40);
        a.site = "site-" + std::to_string(i % 200);
        a.channel_hint = i % 10 == 0 ? "beta" : "stable";
        a.enrolled_at = 1;
        if (auto r = tx.insert_agent(a); !r) return r;
        std::vector<Attempt> reports;
        for (int k = 0; k < 3; ++k) {
          Attempt t;
          t.id = a.id + "-" + std::to_string(k);
          t.agent_id = a.id;
          t.release = {"1." + std::to_string((i % 50) / 4 + k) + ".0", pair[0], pair[1]};
          t.outcome = i % 97 == k ? "failure" : "success";
          t.occurred_at = "2026-11-2" + std::to_string(k + 1) + "T10:00:00Z";
          t.received_at = 1'000'000 + k * 100'000;
          reports.push_back(t);
        }
        if (auto r = tx.record_attempts(reports); !r) return r.error();
      }
      return {};
    });
    if (!st) {
      std::fprintf(stderr, "rollouts_bench: seeding: %s\n", st.error().message.c_str());
      return 1;
    }
    std::printf("seeded %d agents, %d reports in %.1f s\n", agents, 3 * agents,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  auto store = must(rollout::server::open_store(url), "reopen");
  const std::int64_t since = 1'150'000;  // the last third of the reports
  // Every attempt ranked, as the all-time counts were read before: a window that holds them all,
  // starting somewhere new each time so that the window cache never answers.
  std::int64_t start = std::numeric_limits<std::int64_t>::min();
  const double all_ranked =
      median_ms(reps, [&] { must(store->release_counts(++start), "ranked counts"); });
  const double all_kept = median_ms(reps, [&] { must(store->release_counts(std::nullopt), "c"); });
  std::int64_t shift = 0;  // a new window start each time: never answered from the cache
  const double window =
      median_ms(reps, [&] { must(store->release_counts(since - ++shift), "windowed counts"); });
  const double window_again =
      median_ms(reps, [&] { must(store->release_counts(since), "windowed counts, again"); });
  const double every_agent = median_ms(reps, [&] { must(store->list_agents(), "agents"); });
  const double groups = median_ms(reps, [&] { must(store->agent_population(), "population"); });
  std::printf("all-time counts, every attempt ranked : %8.1f ms\n", all_ranked);
  std::printf("all-time counts, latest_attempts      : %8.1f ms\n", all_kept);
  std::printf("last-24h counts (a third of reports)  : %8.1f ms\n", window);
  std::printf("  the same, no report since (cached)   : %8.1f ms\n", window_again);
  std::printf("every agent row (list_agents)         : %8.1f ms\n", every_agent);
  std::printf("agent_population groups               : %8.1f ms\n", groups);
  // What one refresh read before; its last-24h query had no received_at index, so counting it at
  // today's cost makes "before" a lower bound.
  const double before = all_ranked + window + every_agent;
  const double after = all_kept + window + groups;
  const double steady = all_kept + window_again + groups;
  std::printf(
      "one refresh's store reads: before %.1f ms, now %.1f ms (ratio %.3f); "
      "now with no report since the last refresh %.1f ms (ratio %.3f)\n",
      before, after, after / before, steady, steady / before);
  std::filesystem::remove_all(dir);
  return 0;
}
