# watchdog OWNER_PID DONE_FILE COMMAND...: runs COMMAND once OWNER_PID is gone unless DONE_FILE
# exists by then, or as soon as DONE_FILE's directory is gone (nothing left to clean). For what
# outlives a script killed with SIGKILL (a ctest timeout): the PostgreSQL a script started, which
# pg_ctl daemonizes out of the script's process tree. The watchdog itself is detached (its own
# session, reparented to init) so a kill of the script's tree does not take it along; it checks
# once a second and ignores INT, TERM and HUP.
# shellcheck shell=bash
watchdog() {
  local owner=$1 done_file=$2
  shift 2
  (
    # shellcheck disable=SC2016 # expanded by the detached bash
    setsid bash -c '
      trap "" INT TERM HUP
      owner=$1 done_file=$2
      shift 2
      while kill -0 "$owner" 2>/dev/null && [ -d "$(dirname "$done_file")" ]; do sleep 1; done
      [ -e "$done_file" ] || [ ! -d "$(dirname "$done_file")" ] || "$@"
    ' watchdog "$owner" "$done_file" "$@" </dev/null >/dev/null 2>&1 &
  )
}
