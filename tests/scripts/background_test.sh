#!/usr/bin/env bash
# scripts/lib/background.sh, with a fake cmake first in PATH whose configure or build step of a
# preset succeeds, fails, or runs until killed (even ignoring SIGTERM), as each case sets it:
#   a chain that succeeds: every wait succeeds, each .rc says 0, the builds ran in order;
#   an earlier build fails (release in its build after a while, fuzz in its configure): waiting
#   for a later preset fails, naming the one that failed with the end of its log, and what came
#   after it in the chain never starts; a failed awaited build names itself; the chain killed
#   from outside fails the wait, naming the build it was on; no wait hangs;
#   the caller exits while a build runs (a failed stage, SIGTERM): no process of the chain is
#   left, one that ignores SIGTERM included;
#   an autogroup that cannot be written (a directory, a missing path): the chain builds, saying
#   nothing about it; one that can is set to 19.
# A wait for a preset that is not in the chain fails at once.
# Needs bash, coreutils and /proc only; about 6 s; removes its temporary directory and what it
# started.
# usage: background_test.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
driver=
cleanup() {
  local f pid
  [ -z "$driver" ] || kill -KILL "$driver" 2>/dev/null || true
  for f in "$tmp"/*/fake/pids; do
    [ -f "$f" ] || continue
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$f"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
# The chain's own autogroup stays as it is unless a case says otherwise: niced to 19 it would get
# next to no CPU on a busy machine, and this test would take as long as the machine is busy.
export BG_AUTOGROUP=/dev/null

fail() {
  echo "FAIL ($name): $*" >&2
  for f in "$dir/out" "$dir/err"; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  exit 1
}

mkdir -p "$tmp/bin"
# cmake --preset P -S ROOT (configure) or cmake --build --preset P -j N (build); $FAKE_DIR/P.STEP
# says what it does: ok (default), fail, fail-late, hang, stubborn (hang ignoring SIGTERM).
cat >"$tmp/bin/cmake" <<'FAKE'
#!/usr/bin/env bash
set -u
step=configure p=
while [ $# -gt 0 ]; do
  case $1 in --build) step=build ;; --preset) p=$2; shift ;; esac
  shift
done
what=$(cat "$FAKE_DIR/$p.$step" 2>/dev/null || echo ok)
[ "$what" != stubborn ] || trap '' TERM  # before it says it started
echo "$$" >>"$FAKE_DIR/pids"
echo "fake cmake: $step $p"
echo "$step $p" >>"$FAKE_DIR/calls"
case $what in
  ok) sleep 0.05 ;;
  fail) echo "CMake Error: the $step of $p broke" >&2; exit 3 ;;
  fail-late) sleep 0.5; echo "error: the $step of $p broke"; exit 4 ;;
  hang | stubborn) exec sleep 30 ;;
esac
FAKE
chmod +x "$tmp/bin/cmake"

# driver.sh DIR PRESET... -- STEP...: scripts/test's way, with build/ under DIR/root; then each
# step: wait:P (bg_build_wait P), sleep:S, started:P (until the fake's build of P has started),
# false (a failed stage), kill-chain (from outside).
cat >"$tmp/driver.sh" <<'DRIVER'
dir=$1; shift
source "$REPO/scripts/lib/common.sh"
ROOT=$dir/root
source "$REPO/scripts/lib/background.sh"
presets=()
while [ "$1" != -- ]; do presets+=("$1"); shift; done
shift
bg_builds_start "${presets[@]}"
echo "$BG_PID" >"$dir/chain.pid"
for step; do
  case $step in
    wait:*) bg_build_wait "${step#wait:}" ;;
    sleep:*) sleep "${step#sleep:}" ;;
    started:*)
      for ((i = 0; i < 50; i++)); do
        [[ $'\n'$(<"$dir/fake/calls")$'\n' == *$'\n'"build ${step#started:}"$'\n'* ]] && break
        sleep 0.1
      done ;;
    false) false ;;
    kill-chain) kill -KILL -- "-$BG_PID" ;;
  esac
done
echo "driver done"
DRIVER

# How long the case before took, in ms.
took() {
  [ -z "${name:-}" ] || echo "$name: $(((${EPOCHREALTIME/[.,]/} - case_start) / 1000)) ms"
}
# new_case NAME [PRESET=STEP:BEHAVIOUR...]: a fresh directory for the case, as $dir.
new_case() {
  took
  name=$1; shift
  case_start=${EPOCHREALTIME/[.,]/}
  dir="$tmp/$name"
  mkdir -p "$dir/root" "$dir/fake"
  : >"$dir/fake/calls"
  local b
  for b; do echo "${b#*:}" >"$dir/fake/${b%%:*}"; done
}
# run PRESET... -- STEP...: the driver in the case's directory, bounded; its exit status in $rc.
run() {
  rc=0
  PATH="$tmp/bin:$PATH" FAKE_DIR="$dir/fake" REPO="$repo" \
    timeout 20 bash "$tmp/driver.sh" "$dir" "$@" >"$dir/out" 2>"$dir/err" || rc=$?
  [ "$rc" -ne 124 ] || fail "the driver did not end within 20 s"
}
logs() { echo "$dir/root/build/logs"; }
rc_of() { local r; read -r r _ <"$(logs)/$1.rc"; echo "$r"; }
has() { [[ $(<"$dir/$1") == *"$2"* ]] || fail "$1 lacks: $2"; }
lacks() { [[ $(<"$dir/$1") != *"$2"* ]] || fail "$1 has: $2"; }
has_line() { [[ $'\n'$(<"$1")$'\n' == *$'\n'"$2"$'\n'* ]]; }
# Whether process $1 runs (a zombie does not: PID 1 may reap the chain's orphans late).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }  # after "pid (comm) ": the state first
  [ "${stat%% *}" != Z ]
}
# Every process of the chain gone within 3 s: its leader (bash, whose pid is the group's) and
# every fake cmake, whose pid is its step's (what hangs is exec'ed).
chain_gone() {
  local pids pid i left
  pids=("$(cat "$dir/chain.pid")")
  mapfile -t -O 1 pids <"$dir/fake/pids"
  for ((i = 0; i < 30; i++)); do
    left=
    for pid in "${pids[@]}"; do if alive "$pid"; then left+=" $pid"; fi; done
    [ -n "$left" ] || return 0
    sleep 0.1
  done
  fail "processes of the chain still running after 3 s:$left"
}
all=(release aarch64 fuzz asan)

# A chain that succeeds, waited for in scripts/test's order, the real autogroup.
new_case success
run "${all[@]}" -- wait:aarch64 wait:release wait:fuzz wait:asan
[ "$rc" -eq 0 ] || fail "exit $rc"
has out "driver done"
for p in "${all[@]}"; do
  [ "$(rc_of "$p")" = 0 ] || fail "$p.rc: $(cat "$(logs)/$p.rc")"
  [[ $(<"$(logs)/$p.rc") =~ ^0\ [0-9]+$ ]] || fail "$p.rc is not 'rc seconds': $(cat "$(logs)/$p.rc")"
  has err "configure + build ($p) done beside the tests"
  has_line "$(logs)/$p.log" "fake cmake: build $p" || fail "$p.log lacks the build's output"
done
calls=$(<"$dir/fake/calls")
[ "${calls//$'\n'/, }" = "configure release, build release, configure aarch64, build aarch64, \
configure fuzz, build fuzz, configure asan, build asan" ] || fail "the builds ran as: $calls"
chain_gone

# A wait for what is not in the chain fails at once.
new_case unknown
run release -- wait:asan
[ "$rc" -ne 0 ] || fail "exit 0"
has err "(asan) is not one of the background builds (release)"

# release's build fails while aarch64 is awaited: the failure is release's, aarch64 never starts.
new_case release-fails release.build:fail-late
run "${all[@]}" -- wait:aarch64 wait:release
[ "$rc" -ne 0 ] || fail "exit 0"
has err "configure + build (release) failed with exit 4 (build/logs/release.log)"
has err "so (aarch64) was not built"
has err "error: the build of release broke"
lacks err "(aarch64) failed"
lacks out "driver done"
[ "$(rc_of release)" = 4 ] || fail "release.rc: $(cat "$(logs)/release.rc")"
lacks fake/calls aarch64
[ ! -e "$(logs)/aarch64.rc" ] || fail "aarch64.rc written"
chain_gone

# fuzz's configure fails: aarch64 and release are built and waited for, the wait for asan names
# fuzz with its configure's error; asan never starts.
new_case fuzz-fails fuzz.configure:fail
run "${all[@]}" -- wait:aarch64 wait:release wait:asan
[ "$rc" -ne 0 ] || fail "exit 0"
has err "configure + build (release) done beside the tests"
has err "configure + build (fuzz) failed with exit 3 (build/logs/fuzz.log)"
has err "so (asan) was not built"
has err "CMake Error: the configure of fuzz broke"
lacks fake/calls asan

# The awaited build itself fails.
new_case awaited-fails aarch64.build:fail
run "${all[@]}" -- wait:release wait:aarch64
[ "$rc" -ne 0 ] || fail "exit 0"
has err "configure + build (aarch64) failed with exit 3 (build/logs/aarch64.log)"
has err "CMake Error: the build of aarch64 broke"
lacks fake/calls fuzz

# The chain killed from outside during aarch64's build (no .rc): the wait for asan fails at once.
new_case killed aarch64.build:hang
run "${all[@]}" -- started:aarch64 kill-chain wait:asan
[ "$rc" -ne 0 ] || fail "exit 0"
has err "the background builds stopped during (aarch64), with no exit status, before (asan)"
has err "fake cmake: build aarch64"
chain_gone

# A failed stage while release builds: nothing of the chain is left, SIGTERM or not.
for b in hang stubborn; do
  new_case "stage-fails-$b" "release.build:$b"
  run "${all[@]}" -- started:release false
  [ "$rc" -ne 0 ] || fail "exit 0"
  has_line "$dir/fake/calls" "build release" || fail "release's build never started"
  chain_gone
done

# SIGTERM to the caller while it waits: likewise.
new_case sigterm release.build:hang
PATH="$tmp/bin:$PATH" FAKE_DIR="$dir/fake" REPO="$repo" \
  bash "$tmp/driver.sh" "$dir" "${all[@]}" -- wait:release >"$dir/out" 2>"$dir/err" &
driver=$!
for ((i = 0; i < 50; i++)); do has_line "$dir/fake/calls" "build release" && break; sleep 0.1; done
has_line "$dir/fake/calls" "build release" || fail "release's build never started"
kill -TERM "$driver"
rc=0
wait "$driver" || rc=$?
[ "$rc" -ne 0 ] || fail "exit 0 after SIGTERM"
chain_gone

# An autogroup that cannot be written changes nothing and says nothing; one that can gets 19.
for where in directory:"$tmp" missing:"$tmp/missing/autogroup"; do
  new_case "autogroup-${where%%:*}"
  BG_AUTOGROUP=${where#*:} run release -- wait:release
  [ "$rc" -eq 0 ] || fail "exit $rc with BG_AUTOGROUP=$where"
  while read -r line; do
    [[ $line == '==> '* ]] || fail "stderr has more than progress lines: $line"
  done <"$dir/err"
done
new_case autogroup-writable
: >"$dir/autogroup"
BG_AUTOGROUP=$dir/autogroup run release -- wait:release
[ "$rc" -eq 0 ] || fail "exit $rc"
[ "$(cat "$dir/autogroup")" = 19 ] || fail "autogroup file: $(cat "$dir/autogroup")"

took
echo "background.sh: all cases passed"
