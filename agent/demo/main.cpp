// rollout-demo-agent: a stand-in for the managed RMM agent, used by tests and the demo. Its
// behaviour is fixed per built artifact so that one release can be "good" and another "crashes":
//
//   healthy          run until asked to stop (SIGTERM; on Windows Ctrl+Break or the
//                    supervisor's stop event, platform/stop_request.hpp), a heartbeat line on
//                    stdout now and then; exit 0
//   crash-at-start   "panic: simulated crash" on stderr, then abort() (SIGABRT; exit code 3 on
//                    Windows)
//   crash-after:N    run healthy for N seconds, then crash as above
//   access-violation "panic: simulated access violation" on stderr, then a write through a null
//                    pointer (SIGSEGV; on Windows the exception 0xC0000005)
//   exit-nonzero:C   exit with code C at once
//   hang             ignore SIGTERM, say so once on stderr, then never exit or print
//
// Where the behaviour and version come from, first found wins: the environment
// (ROLLOUT_DEMO_BEHAVIOUR, ROLLOUT_DEMO_VERSION; tests), sidecar files `behaviour` / `version`
// next to the executable, then a configuration block embedded in the executable itself, which
// `--make-variant OUT --behaviour B --version V` patches into a copy — so a release artifact can
// be a single file. ROLLOUT_DEMO_HEARTBEAT_MS sets the heartbeat period (default 1000).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "platform/process.hpp"
#include "platform/stop_request.hpp"

#ifndef ROLLOUT_DEMO_DEFAULT_VERSION
#define ROLLOUT_DEMO_DEFAULT_VERSION "0.0.0"
#endif

namespace {

// The embedded configuration: a marker followed by two NUL-padded fields. volatile so the
// compiler reads the (possibly patched) bytes at run time instead of folding the initializer.
struct Embedded {
  char marker[25];
  char behaviour[48];
  char version[48];
};
volatile const Embedded kEmbedded = {"ROLLOUT_DEMO_CONFIG_V1::", "", ""};

std::string read_field(const volatile char* field, std::size_t size) {
  std::string out;
  for (std::size_t i = 0; i < size && field[i] != '\0'; ++i) out += field[i];
  return out;
}

std::atomic<bool> stop_requested{false};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::optional<std::string> sidecar(const std::filesystem::path& exe, const char* name) {
  std::ifstream in(exe.parent_path() / name);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return trim(ss.str());
}

std::string setting(const char* env, const std::filesystem::path& exe, const char* file,
                    const std::string& embedded, const std::string& fallback) {
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return v;
  if (!exe.empty()) {
    if (auto v = sidecar(exe, file)) return *v;
  }
  return embedded.empty() ? fallback : embedded;
}

[[noreturn]] void crash() {
  std::fputs("panic: simulated crash\n", stderr);
  std::fflush(stderr);
  std::abort();
}

[[noreturn]] void access_violation() {
  std::fputs("panic: simulated access violation\n", stderr);
  std::fflush(stderr);
  volatile int* nowhere = nullptr;
  *nowhere = 1;
  std::abort();  // not reached
}

// Runs healthy until asked to stop, or until `crash_after` elapses.
int run_healthy(const std::string& version, std::optional<std::chrono::seconds> crash_after) {
  rollout::platform::watch_stop_requests(stop_requested);
  long period_ms = 1000;
  if (const char* p = std::getenv("ROLLOUT_DEMO_HEARTBEAT_MS")) period_ms = std::atol(p);
  if (period_ms <= 0) period_ms = 1000;
  const auto start = std::chrono::steady_clock::now();
  auto next_beat = start;
  unsigned long beats = 0;
  std::printf("demo agent %s started\n", version.c_str());
  std::fflush(stdout);
  while (!stop_requested.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (crash_after && now - start >= *crash_after) crash();
    if (now >= next_beat) {
      std::printf("heartbeat %s %lu\n", version.c_str(), ++beats);
      std::fflush(stdout);
      next_beat = now + std::chrono::milliseconds(period_ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf("demo agent %s stopping\n", version.c_str());
  return 0;
}

int make_variant(const std::string& self, const std::string& out, const std::string& behaviour,
                 const std::string& version) {
  if (behaviour.size() >= sizeof kEmbedded.behaviour ||
      version.size() >= sizeof kEmbedded.version) {
    std::fprintf(stderr, "rollout-demo-agent: behaviour or version is too long\n");
    return 2;
  }
  std::ifstream in(self, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The needle comes from the block itself, so the only match is the block.
  const std::string marker = read_field(kEmbedded.marker, sizeof kEmbedded.marker);
  const auto at = bytes.find(marker + '\0');
  if (!in.good() && !in.eof()) {
    std::fprintf(stderr, "rollout-demo-agent: cannot read %s\n", self.c_str());
    return 1;
  }
  if (at == std::string::npos) {
    std::fprintf(stderr, "rollout-demo-agent: no configuration block in %s\n", self.c_str());
    return 1;
  }
  const auto b = at + sizeof kEmbedded.marker;
  const auto v = b + sizeof kEmbedded.behaviour;
  bytes.replace(b, sizeof kEmbedded.behaviour, std::string(sizeof kEmbedded.behaviour, '\0'));
  bytes.replace(b, behaviour.size(), behaviour);
  bytes.replace(v, sizeof kEmbedded.version, std::string(sizeof kEmbedded.version, '\0'));
  bytes.replace(v, version.size(), version);
  std::ofstream o(out, std::ios::binary | std::ios::trunc);
  o.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  o.close();
  if (!o) {
    std::fprintf(stderr, "rollout-demo-agent: cannot write %s\n", out.c_str());
    return 1;
  }
  std::filesystem::permissions(out, std::filesystem::perms(0755));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto self = rollout::platform::current_executable_path();
  const std::filesystem::path exe = self ? std::filesystem::path(*self) : std::filesystem::path();
  const std::string version = setting("ROLLOUT_DEMO_VERSION", exe, "version",
                                      read_field(kEmbedded.version, sizeof kEmbedded.version),
                                      ROLLOUT_DEMO_DEFAULT_VERSION);
  const std::string behaviour =
      setting("ROLLOUT_DEMO_BEHAVIOUR", exe, "behaviour",
              read_field(kEmbedded.behaviour, sizeof kEmbedded.behaviour), "healthy");

  const std::string arg1 = argc > 1 ? argv[1] : "";
  if (arg1 == "--version") {
    std::printf("%s\n", version.c_str());
    return 0;
  }
  if (arg1 == "--help") {
    std::printf(
        "usage: rollout-demo-agent [--version | --help |\n"
        "                           --make-variant OUT --behaviour B --version V]\n"
        "behaviours: healthy, crash-at-start, crash-after:N, access-violation,\n"
        "            exit-nonzero:CODE, hang\n");
    return 0;
  }
  if (arg1 == "--make-variant") {
    if (argc != 7 || std::string(argv[3]) != "--behaviour" || std::string(argv[5]) != "--version" ||
        !self) {
      std::fprintf(stderr,
                   "usage: rollout-demo-agent --make-variant OUT --behaviour B --version V\n");
      return 2;
    }
    return make_variant(*self, argv[2], argv[4], argv[6]);
  }
  if (argc > 1) {
    std::fprintf(stderr, "rollout-demo-agent: unknown argument '%s' (try --help)\n", argv[1]);
    return 2;
  }

  if (behaviour == "healthy") return run_healthy(version, std::nullopt);
  if (behaviour == "crash-at-start") crash();
  if (behaviour == "access-violation") access_violation();
  if (behaviour.rfind("crash-after:", 0) == 0) {
    return run_healthy(version, std::chrono::seconds(std::atol(behaviour.c_str() + 12)));
  }
  if (behaviour.rfind("exit-nonzero:", 0) == 0) {
    const int code = std::atoi(behaviour.c_str() + 13);
    std::fprintf(stderr, "demo agent %s exiting with code %d\n", version.c_str(), code);
    return code;
  }
  if (behaviour == "hang") {
    rollout::platform::ignore_stop_requests();
    std::fprintf(stderr, "demo agent %s hanging\n", version.c_str());
    std::fflush(stderr);
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  std::fprintf(stderr, "rollout-demo-agent: unknown behaviour '%s'\n", behaviour.c_str());
  return 2;
}
