# Builds that run beside the tests (sourced by scripts/test after lib/common.sh).
# shellcheck shell=bash
#
# The test stages leave much of the machine idle (processes that wait on each other, wine,
# qemu), so the later stages' builds run meanwhile, one after another, at the lowest priority
# (nice 19: a test that wants the CPU gets it) in a process group of their own, each into
# build/logs/<preset>.log, its exit status and seconds into build/logs/<preset>.rc. A build that
# fails stops the chain: the rest are not built. bg_builds_start PRESET... starts them;
# bg_build_wait PRESET returns when that one is built, and fails the run with the end of the log
# of the build that failed: that one, or an earlier one of the chain that stopped it. An exit of
# the caller for any reason stops what is still building.

BG_DIR="$ROOT/build/logs"
BG_PID=
BG_PRESETS=()
# The chain's scheduler autogroup, niced when it can be (tests/scripts/background_test.sh points
# it at what cannot be written).
BG_AUTOGROUP=${BG_AUTOGROUP:-/proc/self/autogroup}

bg_builds_start() {
  mkdir -p "$BG_DIR"
  local p
  for p in "$@"; do rm -f "$BG_DIR/$p.rc" "$BG_DIR/$p.log"; done
  BG_PRESETS=("$@")
  # setsid: the chain leads its own process group, so one kill stops ninja and the compilers too.
  # A new session is also a new scheduler autogroup (Linux with sched_autogroup), which would
  # share the CPU equally with the tests whatever the nice value: the group is niced too, when
  # the kernel has autogroups and /proc lets it (nothing to do otherwise).
  # shellcheck disable=SC2016 # the chain's script, expanded there
  ROOT="$ROOT" JOBS="$(jobs)" BG_DIR="$BG_DIR" BG_AUTOGROUP="$BG_AUTOGROUP" \
    nice -n 19 setsid bash -c '
    { echo 19 >"$BG_AUTOGROUP"; } 2>/dev/null
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
  local i
  kill -- "-$BG_PID" 2>/dev/null || true
  # The group is gone once ninja and the compilers have ended too; what is still there after 1 s
  # (a step that ignores SIGTERM) is killed.
  for ((i = 0; i < 10; i++)); do
    kill -0 -- "-$BG_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$BG_PID" 2>/dev/null || true
  wait "$BG_PID" 2>/dev/null || true
  BG_PID=
}

# The first build of the chain whose .rc says it failed, if any (the chain stops at it).
bg_failed_build() {
  local q rc
  for q in "${BG_PRESETS[@]}"; do
    [ -f "$BG_DIR/$q.rc" ] || return 1
    read -r rc _ <"$BG_DIR/$q.rc"
    [ "$rc" -eq 0 ] || { echo "$q"; return 0; }
  done
  return 1
}

bg_build_wait() { # preset
  local p=$1 waited=$SECONDS rc took failed q
  [[ " ${BG_PRESETS[*]} " == *" $p "* ]] ||
    die "($p) is not one of the background builds (${BG_PRESETS[*]:-none started})"
  while [ ! -f "$BG_DIR/$p.rc" ]; do
    if failed=$(bg_failed_build); then
      read -r rc took <"$BG_DIR/$failed.rc"
      tail -80 "$BG_DIR/$failed.log" >&2
      die "configure + build ($failed) failed with exit $rc (build/logs/$failed.log); the" \
        "background builds stopped there, so ($p) was not built"
    fi
    if ! kill -0 "$BG_PID" 2>/dev/null; then
      [ -f "$BG_DIR/$p.rc" ] && break  # it finished as the chain ended
      # Killed from outside: the build it was on is the first without a .rc.
      for q in "${BG_PRESETS[@]}"; do [ -f "$BG_DIR/$q.rc" ] || break; done
      [ -f "$BG_DIR/$q.log" ] && tail -80 "$BG_DIR/$q.log" >&2
      die "the background builds stopped during ($q), with no exit status, before ($p) was" \
        "built (build/logs/$q.log)"
    fi
    sleep 0.2
  done
  read -r rc took <"$BG_DIR/$p.rc"
  if [ "$rc" -ne 0 ]; then
    tail -80 "$BG_DIR/$p.log" >&2
    die "configure + build ($p) failed with exit $rc (build/logs/$p.log)"
  fi
  say "configure + build ($p) done beside the tests: ${took} s, waited $((SECONDS - waited)) s for it"
}
