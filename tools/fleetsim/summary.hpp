// The JSON summary rollout-fleetsim prints on exit: agents enrolled, check-ins sent / answered /
// failed by reason with latency percentiles (all, and those after the
// ready point, without the enrollment burst), verification failures, reports, and per directive
// (action, version) how long after the marker the first, 50 %, 95 % and last agent had it. The
// marker is the mark file's time when one was read before the first receipt, else that receipt.
#pragma once

#include <boost/json/object.hpp>
#include <optional>

#include "tools/fleetsim/fleet.hpp"
#include "tools/fleetsim/options.hpp"

namespace rollout::fleetsim {

boost::json::object summarize(const Options& options, Stats stats, std::uint32_t enrolled,
                              bool ready, std::optional<double> mark, double elapsed_s);

// The value at quantile q (0..1) of sorted values (nearest rank); 0 for none.
double quantile(const std::vector<double>& sorted, double q);

}  // namespace rollout::fleetsim
