// The agent loop never stalls on a download (issue 10 §3), with real processes: the real agent
// against a scripted server that serves a 6 MB artifact through a 50 KB/s cap — a two-minute
// download — under a 2 s watchdog read from the agent's own notify socket. While the bytes
// trickle in, the managed agent is killed and must be restarted, the agent must keep sending
// WATCHDOG=1 at least every WatchdogSec, show its progress in STATUS=, and a SIGTERM must end it
// within its grace time without waiting for the transfer. The test stops the agent after about
// 15 s: every property is about what happens *during* the transfer, and 15 s is seven watchdog
// intervals, a crash and a restart; the remaining 100 s of transfer would prove nothing more
// (before the fix the agent sent no keep-alive and ignored SIGTERM until the transfer ended).
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <random>
#include <thread>

#include "tests/agent/hostile_fixture.hpp"

namespace rollout::agent::test {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// A datagram socket standing in for systemd's NOTIFY_SOCKET: records every message with when it
// arrived.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "cannot bind " << path_;
      return;
    }
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] {
      char buf[4096];
      while (!stop_) {
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) continue;
        std::lock_guard lock(mu_);
        messages_.emplace_back(Steady::now(), std::string(buf, static_cast<std::size_t>(n)));
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  std::vector<std::pair<Steady::time_point, std::string>> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  std::vector<Steady::time_point> times_of(const std::string& needle) {
    std::vector<Steady::time_point> out;
    for (const auto& [at, text] : messages()) {
      if (text.find(needle) != std::string::npos) out.push_back(at);
    }
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::pair<Steady::time_point, std::string>> messages_;
  std::thread thread_;
};

std::int64_t running_pid(const fs::path& state) {
  std::error_code ec;
  if (!fs::exists(state / "running.json", ec)) return 0;
  boost::system::error_code jec;
  auto v = boost::json::parse(rollout::testing::read_file(state / "running.json"), jec);
  if (jec || !v.is_object() || !v.as_object().contains("pid")) return 0;
  return v.as_object().at("pid").to_number<std::int64_t>();
}

class AgentLoop : public Hostile {};

TEST_F(AgentLoop, ALongDownloadDoesNotStopSupervisionTheWatchdogOrAStop) {
  std::string artifact(6'000'000, '\0');
  std::mt19937 rng(7);
  for (auto& c : artifact) c = static_cast<char>(rng());
  server_->serve_concurrently();  // check-ins go on while the artifact streams
  serve_artifact(artifact);
  serve_directive(directive({manifest("1.1.0", artifact)}));
  NotifySocket notify((dir_.path() / "notify.sock").string());
  agent_env_ = {"NOTIFY_SOCKET=" + (dir_.path() / "notify.sock").string(), "WATCHDOG_USEC=2000000"};
  // curl meets the cap by pausing after a burst; a pause must not count as a stalled link.
  fs::create_directories(dir_.path() / "conf.d");
  rollout::testing::write_file(dir_.path() / "conf.d" / "slow.yaml", "low_speed_time: 60s\n");
  start_agent("max_bandwidth: 50000\n");

  const fs::path part = root() / "staging" / (crypto::sha256_hex(artifact) + ".part");
  auto part_size = [&]() -> std::uintmax_t {
    std::error_code ec;
    auto n = fs::file_size(part, ec);
    return ec ? 0 : n;
  };
  ASSERT_TRUE(eventually([&] { return part_size() > 0; }, 30s)) << "the download never started";
  const auto download_began = Steady::now();
  ASSERT_TRUE(eventually([&] { return running_pid(dir_.path() / "state") > 0; }, 10s));

  // The managed agent dies mid-download: the controller restarts it (backoff starts at ~2 s).
  std::this_thread::sleep_for(3s);
  const auto first_pid = running_pid(dir_.path() / "state");
  ASSERT_EQ(::kill(static_cast<pid_t>(first_pid), SIGKILL), 0);
  EXPECT_TRUE(eventually(
      [&] {
        const auto pid = running_pid(dir_.path() / "state");
        return pid > 0 && pid != first_pid;
      },
      20s))
      << "the managed agent was not restarted during the download";
  std::this_thread::sleep_for(6s);
  const auto bytes_before_stop = part_size();
  EXPECT_GT(bytes_before_stop, 0u);
  EXPECT_LT(bytes_before_stop, artifact.size()) << "the cap did not make the download long";

  // A stop during the transfer ends the agent within its grace time (10 s for the managed agent),
  // not after the remaining minutes of download.
  const auto stop_sent = Steady::now();
  agent_->signal(SIGTERM);
  const int code = agent_->wait(15s);
  const auto stopped_in = Steady::now() - stop_sent;
  EXPECT_EQ(code, 0) << "the agent did not exit cleanly within its grace time";
  EXPECT_LT(stopped_in, 12s);
  agent_.reset();

  // Keep-alives all along the transfer: no gap reached WatchdogSec (2 s), which is what systemd
  // kills on.
  const auto pings = notify.times_of("WATCHDOG=1");
  std::vector<Steady::time_point> during;
  for (auto t : pings) {
    if (t >= download_began && t <= stop_sent) during.push_back(t);
  }
  ASSERT_GE(during.size(), 8u) << "too few keep-alives during the download";
  EXPECT_LT(during.front() - download_began, 2s);
  EXPECT_LT(stop_sent - during.back(), 2s);
  for (std::size_t i = 1; i < during.size(); ++i) {
    EXPECT_LT(during[i] - during[i - 1], 2s) << "watchdog gap before keep-alive " << i;
  }
  // The status line showed bytes done of the signed size.
  bool progress_shown = false;
  for (const auto& [at, text] : notify.messages()) {
    if (text.find("STATUS=") != std::string::npos &&
        text.find("of " + std::to_string(artifact.size()) + " bytes") != std::string::npos) {
      progress_shown = true;
    }
  }
  EXPECT_TRUE(progress_shown) << "no STATUS= with the download's progress";
  EXPECT_FALSE(notify.times_of("STOPPING=1").empty());
  EXPECT_NE(log().find("downloading"), std::string::npos);
  EXPECT_NE(log().find("download cancelled for the stop"), std::string::npos);
  // The part file stays for the next start to resume.
  EXPECT_GE(part_size(), bytes_before_stop);
}

}  // namespace
}  // namespace rollout::agent::test
