# Builds that run beside the tests (sourced by scripts/test after lib/common.sh).
#
# The test stages leave much of the machine idle (processes that wait on each other, wine,
# qemu), so the later stages' builds run meanwhile, one after another, at the lowest priority
# (nice 19: a test that wants the CPU gets it) in a process group of their own, each into
# build/logs/<preset>.log. bg_builds_start PRESET... starts them; bg_build_wait PRESET returns
# when that one is built and fails the run, with the end of its log, when it failed. An exit of
# the caller for any reason stops what is still building.

BG_DIR="$ROOT/build/logs"
BG_PID=

bg_builds_start() {
  mkdir -p "$BG_DIR"
  local p
  for p in "$@"; do rm -f "$BG_DIR/$p.rc" "$BG_DIR/$p.log"; done
  # setsid: the chain leads its own process group, so one kill stops ninja and the compilers too.
  # A new session is also a new scheduler autogroup (Linux with sched_autogroup), which would
  # share the CPU equally with the tests whatever the nice value: the group is niced too.
  ROOT="$ROOT" JOBS="$(jobs)" BG_DIR="$BG_DIR" nice -n 19 setsid bash -c '
    [ -w /proc/self/autogroup ] && echo 19 >/proc/self/autogroup 2>/dev/null
    for p in "$@"; do
      start=$SECONDS
      { cmake --preset "$p" -S "$ROOT" >/dev/null && cmake --build --preset "$p" -j "$JOBS"; } \
        >"$BG_DIR/$p.log" 2>&1
      rc=$?
      echo "$rc $((SECONDS - start))" >"$BG_DIR/$p.rc.tmp" && mv "$BG_DIR/$p.rc.tmp" "$BG_DIR/$p.rc"
      [ "$rc" -eq 0 ] || exit "$rc"
    done' background-builds "$@" &
  BG_PID=$!
  trap 'bg_builds_stop' EXIT
  say "building $* beside the tests (nice 19; logs in build/logs/)"
}

bg_builds_stop() {
  [ -n "$BG_PID" ] || return 0
  kill -- "-$BG_PID" 2>/dev/null || true
  wait "$BG_PID" 2>/dev/null || true
  BG_PID=
}

bg_build_wait() { # preset
  local p=$1 waited=$SECONDS rc took
  while [ ! -f "$BG_DIR/$p.rc" ]; do
    if ! kill -0 "$BG_PID" 2>/dev/null && [ ! -f "$BG_DIR/$p.rc" ]; then
      [ -f "$BG_DIR/$p.log" ] && tail -80 "$BG_DIR/$p.log" >&2
      die "the background builds stopped before ($p) was built (build/logs/)"
    fi
    sleep 2
  done
  read -r rc took <"$BG_DIR/$p.rc"
  if [ "$rc" -ne 0 ]; then
    tail -80 "$BG_DIR/$p.log" >&2
    die "configure + build ($p) failed with exit $rc (build/logs/$p.log)"
  fi
  say "configure + build ($p) done beside the tests: ${took} s, waited $((SECONDS - waited)) s for it"
}
