// Scripted children on a FakeClock, for supervisor tests; portable (no OS headers).
#include "platform/fake_process.hpp"

#include <algorithm>
#include <deque>

#include "platform/output_tail.hpp"

namespace rollout::platform {

using std::chrono::milliseconds;
using Steady = FakeProcessLauncher::Steady;

FakeChild FakeChild::runs() {
  return {};
}

FakeChild FakeChild::exits_after(milliseconds d, int code) {
  FakeChild c;
  c.ends_in = d;
  c.ends_with = ExitStatus::exited(code);
  return c;
}

FakeChild FakeChild::killed_after(milliseconds d, int signal) {
  FakeChild c;
  c.ends_in = d;
  c.ends_with = ExitStatus::killed_by(signal);
  return c;
}

FakeChild FakeChild::fails_to_start(std::string message) {
  FakeChild c;
  c.launch_error = std::move(message);
  return c;
}

FakeChild& FakeChild::writes_stderr(std::string line, milliseconds at) {
  stderr_lines.emplace_back(at, std::move(line));
  return *this;
}

FakeChild& FakeChild::ignores_sigterm() {
  sigterm_takes.reset();
  return *this;
}

FakeChild& FakeChild::stops_after(milliseconds d, ExitStatus how) {
  sigterm_takes = d;
  on_sigterm = how;
  return *this;
}

struct FakeProcessLauncher::State {
  struct Child {
    std::int64_t pid = 0;
    std::optional<Steady> ends_at;  // when it ends by itself (or after the SIGTERM it got)
    bool ended = false;             // stopped or destroyed
  };

  mutable std::mutex mu;
  std::deque<FakeChild> queue;                                // guarded by mu
  std::function<FakeChild(const LaunchOptions&)> script_for;  // guarded by mu
  FakeChild fallback;                                         // guarded by mu
  std::vector<Launch> launches;                               // guarded by mu
  std::vector<Stop> stops;                                    // guarded by mu
  std::vector<Child> children;                                // guarded by mu
  std::int64_t next_pid = 1000;                               // guarded by mu

  void set_end(std::int64_t pid, std::optional<Steady> ends_at, bool ended) {
    std::lock_guard lock(mu);
    for (auto& c : children) {
      if (c.pid != pid) continue;
      c.ends_at = ends_at;
      c.ended = c.ended || ended;
    }
  }
};

namespace {

class FakeProcess final : public Process {
 public:
  FakeProcess(FakeClock& clock, std::shared_ptr<FakeProcessLauncher::State> state, std::int64_t pid,
              FakeChild script, const LaunchOptions& options)
      : clock_(clock),
        state_(std::move(state)),
        pid_(pid),
        script_(std::move(script)),
        started_(clock.steady_now()),
        tail_(options.stderr_max_lines, options.stderr_max_bytes) {
    if (script_.ends_in) natural_end_ = started_ + *script_.ends_in;
    std::stable_sort(script_.stderr_lines.begin(), script_.stderr_lines.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    // The instants something happens, so an auto-advancing wait stops there.
    if (natural_end_) clock_.at(*natural_end_);
    for (const auto& [at, line] : script_.stderr_lines) clock_.at(started_ + at);
  }

  ~FakeProcess() override {
    if (status_) return;
    const ExitStatus killed = ExitStatus::killed_by(9);
    status_ = killed;
    std::lock_guard lock(state_->mu);
    state_->stops.push_back({pid_, clock_.steady_now(), milliseconds(0), killed, true, true});
    for (auto& c : state_->children) {
      if (c.pid == pid_) c.ended = true;
    }
  }

  std::int64_t pid() const override { return pid_; }

  std::optional<ExitStatus> poll() override {
    if (status_) return status_;
    const auto now = clock_.steady_now();
    const auto end = effective_end();
    const Steady seen_until = end && *end <= now ? *end : now;
    collect_stderr(seen_until);
    if (end && *end <= now) {
      status_ = term_end_ && *term_end_ <= end_by_itself() ? script_.on_sigterm : script_.ends_with;
      state_->set_end(pid_, *end, true);
    }
    return status_;
  }

  std::optional<ExitStatus> wait_for(milliseconds timeout) override {
    const Steady deadline = clock_.steady_now() + timeout;
    Wake wake;  // nothing else wakes a child's own wait: its end is a clock event
    for (;;) {
      if (auto s = poll()) return s;
      if (clock_.steady_now() >= deadline) return std::nullopt;
      const auto end = effective_end();
      (void)clock_.wait_until(end ? std::min(deadline, *end) : deadline, wake);
    }
  }

  ExitStatus terminate(milliseconds grace) override {
    const Steady asked = clock_.steady_now();
    if (auto s = poll()) return record_stop(asked, grace, *s, false);
    if (script_.sigterm_takes) {
      term_end_ = asked + *script_.sigterm_takes;
      clock_.at(*term_end_);
      state_->set_end(pid_, effective_end(), false);
    }
    if (auto s = wait_for(grace)) return record_stop(asked, grace, *s, false);
    const ExitStatus killed = ExitStatus::killed_by(9);
    collect_stderr(clock_.steady_now());
    status_ = killed;
    state_->set_end(pid_, clock_.steady_now(), true);
    return record_stop(asked, grace, killed, true);
  }

  std::vector<std::string> stderr_tail() const override { return tail_.lines(); }
  std::vector<std::intptr_t> wait_handles() const override { return {}; }

 private:
  Steady end_by_itself() const { return natural_end_.value_or(Steady::max()); }

  std::optional<Steady> effective_end() const {
    if (natural_end_ && term_end_) return std::min(*natural_end_, *term_end_);
    if (term_end_) return term_end_;
    return natural_end_;
  }

  void collect_stderr(Steady until) {
    while (next_line_ < script_.stderr_lines.size() &&
           started_ + script_.stderr_lines[next_line_].first <= until) {
      tail_.append(script_.stderr_lines[next_line_].second + "\n");
      ++next_line_;
    }
  }

  ExitStatus record_stop(Steady asked, milliseconds grace, ExitStatus how, bool forced) {
    std::lock_guard lock(state_->mu);
    state_->stops.push_back({pid_, asked, grace, how, forced, false});
    return how;
  }

  FakeClock& clock_;
  std::shared_ptr<FakeProcessLauncher::State> state_;
  std::int64_t pid_;
  FakeChild script_;
  Steady started_;
  std::optional<Steady> natural_end_;
  std::optional<Steady> term_end_;
  std::optional<ExitStatus> status_;
  OutputTail tail_;
  std::size_t next_line_ = 0;
};

}  // namespace

FakeProcessLauncher::FakeProcessLauncher(FakeClock& clock)
    : clock_(clock), state_(std::make_shared<State>()) {}

FakeProcessLauncher::~FakeProcessLauncher() = default;

void FakeProcessLauncher::push(FakeChild child) {
  std::lock_guard lock(state_->mu);
  state_->queue.push_back(std::move(child));
}

void FakeProcessLauncher::set_script(std::function<FakeChild(const LaunchOptions&)> script_for) {
  std::lock_guard lock(state_->mu);
  state_->script_for = std::move(script_for);
}

void FakeProcessLauncher::set_default(FakeChild child) {
  std::lock_guard lock(state_->mu);
  state_->fallback = std::move(child);
}

Expected<std::unique_ptr<Process>> FakeProcessLauncher::launch(const LaunchOptions& options) {
  FakeChild script;
  std::function<FakeChild(const LaunchOptions&)> script_for;
  {
    std::lock_guard lock(state_->mu);
    if (!state_->queue.empty()) {
      script = std::move(state_->queue.front());
      state_->queue.pop_front();
    } else if (state_->script_for) {
      script_for = state_->script_for;
    } else {
      script = state_->fallback;
    }
  }
  if (script_for) script = script_for(options);  // outside the lock: it may inspect the launcher
  const Steady now = clock_.steady_now();
  std::lock_guard lock(state_->mu);
  if (script.launch_error) {
    state_->launches.push_back({options, now, 0});
    return make_error("launch_failed",
                      "cannot start " + options.executable + ": " + *script.launch_error);
  }
  const std::int64_t pid = state_->next_pid++;
  state_->launches.push_back({options, now, pid});
  std::optional<Steady> ends_at;
  if (script.ends_in) ends_at = now + *script.ends_in;
  state_->children.push_back({pid, ends_at, false});
  return std::unique_ptr<Process>(
      std::make_unique<FakeProcess>(clock_, state_, pid, std::move(script), options));
}

std::vector<FakeProcessLauncher::Launch> FakeProcessLauncher::launches() const {
  std::lock_guard lock(state_->mu);
  return state_->launches;
}

std::vector<FakeProcessLauncher::Stop> FakeProcessLauncher::stops() const {
  std::lock_guard lock(state_->mu);
  return state_->stops;
}

std::size_t FakeProcessLauncher::running() const {
  const Steady now = clock_.steady_now();
  std::lock_guard lock(state_->mu);
  return static_cast<std::size_t>(std::count_if(
      state_->children.begin(), state_->children.end(),
      [&](const State::Child& c) { return !c.ended && (!c.ends_at || *c.ends_at > now); }));
}

}  // namespace rollout::platform
