// How a daemon (or the demo agent it supervises) learns that it is asked to stop, on either OS:
//   Linux    SIGTERM or SIGINT (SIGPIPE and SIGXFSZ are ignored at the same time, so a closed
//            pipe or a file-size limit is an error from write(), not the end of the process);
//   Windows  a console Ctrl+C / Ctrl+Break / close / log-off / shutdown event, or the named event
//            in ROLLOUT_STOP_EVENT, which a supervisor sets (platform/windows/process.cpp) —
//            the way a windowless child is asked to stop.
// Each sets `flag` (from a signal handler or a watcher thread); the caller polls it. Call once,
// early in main(); `flag` must outlive the process.
#pragma once

#include <atomic>

namespace rollout::platform {

void watch_stop_requests(std::atomic<bool>& flag);
// The opposite, for a test program that must be stopped by force: the requests above are
// swallowed (the supervisor's forced stop, SIGKILL or TerminateJobObject, still works).
void ignore_stop_requests();

}  // namespace rollout::platform
