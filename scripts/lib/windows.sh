# Windows programs run from Linux under wine, shared by scripts/windows-test, scripts/demo-fleet
# (and so scripts/run), tests/e2e/windows_update.sh and tests/e2e/windows_fleet.sh; sourced after
# scripts/lib/common.sh (say, die, jobs):
#   build_windows_agents   the mingw deps (scripts/windows-deps, cached; skipped when
#                          ROLLOUT_MINGW_PREFIX already names them) and the `windows` preset's
#                          rollout-agent.exe and rollout-demo-agent.exe only; sets WINDOWS_BIN
#   wine_use PREFIX        wine's environment for a prefix of our own (never the user's ~/.wine)
#   wine_boot              boots it once, bounded by WINE_BOOT_SECONDS (default 180); a prefix whose
#                          boot did not finish is thrown away and booted again; wine's crash
#                          debugger is off in it (wine_no_crash_debugger)
#   wine_stop              kills the prefix's wineserver and with it every process still in it
#   wine_leftovers PREFIX  pids of wine processes still running in PREFIX (none after wine_stop)
#   wpath PATH             a Linux path as the Windows programs see it (wine's Z: drive)
# shellcheck shell=bash

WINDOWS_BIN="$ROOT/build/windows"

build_windows_agents() {
  local start=$SECONDS
  if [ -z "${ROLLOUT_MINGW_PREFIX:-}" ] || [ ! -d "$ROLLOUT_MINGW_PREFIX" ]; then
    ROLLOUT_MINGW_PREFIX=$("$ROOT/scripts/windows-deps") || die "scripts/windows-deps failed"
  fi
  export ROLLOUT_MINGW_PREFIX
  say "configure + build (windows: rollout-agent.exe, rollout-demo-agent.exe)"
  # `cmake --build --preset` reads the presets of the current directory.
  (cd "$ROOT" && cmake --preset windows >/dev/null) || die "cmake --preset windows failed"
  (cd "$ROOT" && nice -n "${ROLLOUT_NICE:-10}" cmake --build --preset windows -j "$(jobs)" \
    --target rollout-agent rollout-demo-agent >&2) || die "the windows build failed"
  say "windows build done ($((SECONDS - start)) s)"
}

wine_use() {
  command -v wine >/dev/null || die "wine is missing (Debian packages wine, wine64)"
  # Absolute: wine_leftovers compares it with what each process was started with.
  WINEPREFIX=$(realpath -m "$1")
  # No Mono/Gecko installers at first boot (nothing here needs .NET or HTML).
  export WINEPREFIX WINEDEBUG=-all WINEARCH=win64 WINEDLLOVERRIDES="mscoree,mshtml="
}

# The marker is written only after a complete boot, so an interrupted first boot is not reused.
wine_boot() {
  local limit=${WINE_BOOT_SECONDS:-180} start=$SECONDS
  wineserver -k >/dev/null 2>&1 || true # a wineserver left behind by a killed run
  if [ -f "$WINEPREFIX/.rollout-booted" ]; then
    wine_no_crash_debugger # a prefix booted before it was part of the boot
    return 0
  fi
  rm -rf "$WINEPREFIX"
  mkdir -p "$WINEPREFIX"
  say "wine prefix $WINEPREFIX: first boot (at most $limit s)"
  if ! timeout --kill-after=10 "$limit" wineboot --init >/dev/null 2>&1; then
    wine_stop
    die "wine did not finish booting its prefix in $limit s"
  fi
  timeout 60 wineserver -w || true
  wine_no_crash_debugger
  touch "$WINEPREFIX/.rollout-booted"
  say "wine ready ($((SECONDS - start)) s)"
}

# A crash ends the process at once, as Windows ends a process of a job with
# JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION (platform/windows/process.cpp). Wine ignores that
# flag and starts winedbg for every unhandled exception; on a loaded machine that alone takes
# seconds, so a version that crashes at start could outlive a test's probation and be committed.
# A debugger command that does not exist makes wine's start of it fail, and the process ends.
wine_no_crash_debugger() {
  local key='HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug'
  wine reg add "$key" /v Debugger /t REG_SZ /d rollout-no-crash-debugger.exe /f \
    >/dev/null 2>&1 || die "could not turn wine's crash debugger off in $WINEPREFIX"
  wine reg query "$key" /v Debugger 2>/dev/null | grep -q rollout-no-crash-debugger ||
    die "wine's crash debugger is still on in $WINEPREFIX"
}

wine_stop() {
  [ -n "${WINEPREFIX:-}" ] && [ -d "$WINEPREFIX" ] || return 0
  wineserver -k >/dev/null 2>&1 || true
  timeout 30 wineserver -w >/dev/null 2>&1 || true
}

# Every wine process of a prefix (wineserver, the programs, wine's own services) carries it in its
# environment; so does every Linux child of a shell that exported it (rollout-server, sleep...),
# hence only wine's own executables (wine64-preloader, wineserver64) count.
wine_leftovers() {
  local prefix f pid
  prefix=$(realpath -m "$1")
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}
    pid=${pid%/environ}
    case $(readlink "/proc/$pid/exe" 2>/dev/null) in */wine*) ;; *) continue ;; esac
    grep -qzxF "WINEPREFIX=$prefix" "$f" 2>/dev/null && echo "$pid"
  done
  return 0
}

wpath() { echo "Z:$1"; }
