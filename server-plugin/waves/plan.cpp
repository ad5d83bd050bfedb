// Wave membership: buckets from a hash of (agent, release), thresholds fixed at rollout start.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/crypto.hpp"
#include "server-plugin/waves.hpp"

namespace rollout::server::waves {

Status validate(const Plan& plan) {
  if (plan.cumulative_bp.empty()) {
    return Error{"invalid_argument", "waves: at least one step is needed (100% is all at once)"};
  }
  std::uint32_t prev = 0;
  for (std::size_t i = 0; i < plan.cumulative_bp.size(); ++i) {
    const std::uint32_t s = plan.cumulative_bp[i];
    if (s == 0 || s > kBuckets || s <= prev) {
      return Error{"invalid_argument", "waves: step " + std::to_string(i + 1) +
                                           " must be above the one before it and at most 100%"};
    }
    prev = s;
  }
  if (prev != kBuckets) {
    return Error{"invalid_argument", "waves: the last step must be 100% (every stable agent)"};
  }
  if (plan.updated_bp == 0 || plan.updated_bp > kBuckets) {
    return Error{"invalid_argument", "waves: 'updated' must be above 0% and at most 100%"};
  }
  if (plan.soak.count() < 0 || plan.hysteresis.count() < 0 || plan.max_wait.count() <= 0) {
    return Error{"invalid_argument", "waves: soak and hysteresis must be >= 0, max_wait > 0"};
  }
  return {};
}

Plan merged(Plan base, const PlanFields& f) {
  if (f.cumulative_bp) base.cumulative_bp = *f.cumulative_bp;
  if (f.min_first_wave) base.min_first_wave = *f.min_first_wave;
  if (f.soak) base.soak = *f.soak;
  if (f.hysteresis) base.hysteresis = *f.hysteresis;
  if (f.max_wait) base.max_wait = *f.max_wait;
  if (f.updated_bp) base.updated_bp = *f.updated_bp;
  if (f.on_critical) base.on_critical = *f.on_critical;
  return base;
}

Expected<std::uint32_t> parse_share(std::string_view text) {
  std::string t(text.substr(0, 32));
  const bool percent = !t.empty() && t.back() == '%';
  if (percent) t.pop_back();
  double v = -1;
  try {
    std::size_t used = 0;
    v = std::stod(t, &used);
    if (used != t.size()) v = -1;
  } catch (...) {
    v = -1;
  }
  if (percent) v /= 100.0;
  if (!(v > 0.0 && v <= 1.0) || text.size() > 32) {
    return Error{"invalid_value", "'" + std::string(text.substr(0, 32)) +
                                      "' must be a share like 10% (above 0, at most 100%)"};
  }
  return static_cast<std::uint32_t>(std::lround(v * kBuckets));
}

std::uint32_t bucket(std::string_view agent_id, const ReleaseKey& release) {
  // Length-prefixed fields, so ("ab", "c") and ("a", "bc") never collide.
  std::string input;
  for (std::string_view part : {agent_id, std::string_view(release.version),
                                std::string_view(release.os), std::string_view(release.arch)}) {
    input += std::to_string(part.size());
    input += ':';
    input += part;
  }
  const std::string digest = crypto::sha256(input);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(digest[static_cast<std::size_t>(i)]);
  return static_cast<std::uint32_t>(v % kBuckets);
}

std::vector<std::uint32_t> thresholds(const Plan& plan, std::vector<std::uint32_t> agent_buckets) {
  std::sort(agent_buckets.begin(), agent_buckets.end());
  const std::uint64_t n = agent_buckets.size();
  std::vector<std::uint32_t> out;
  std::uint32_t prev = 0;
  std::uint64_t prev_needed = 0;
  for (std::size_t k = 0; k < plan.cumulative_bp.size(); ++k) {
    const std::uint32_t share = plan.cumulative_bp[k];
    std::uint64_t needed = (n * share + kBuckets - 1) / kBuckets;  // ceil
    if (k == 0) needed = std::max(needed, std::min<std::uint64_t>(plan.min_first_wave, n));
    needed = std::max(needed, prev_needed);
    std::uint32_t t = share;
    if (needed > 0) t = std::max(t, agent_buckets[needed - 1] + 1);
    t = std::max(t, prev);
    if (k + 1 == plan.cumulative_bp.size()) t = kBuckets;
    out.push_back(t);
    prev = t;
    prev_needed = needed;
  }
  return out;
}

std::size_t wave_of(std::uint32_t b, const std::vector<std::uint32_t>& thresholds) {
  for (std::size_t k = 0; k < thresholds.size(); ++k) {
    if (b < thresholds[k]) return k;
  }
  return thresholds.empty() ? 0 : thresholds.size() - 1;
}

}  // namespace rollout::server::waves
