#!/usr/bin/env bash
# The MSI under wine's msiexec, against the Linux dev build's rollout-server on 127.0.0.1 (TLS):
#   a bad property (SERVER_URL=http://...): the install fails (1603; wine: 1627) and is rolled
#       back (no program files, no service), the setup step wrote no config, and the enrollment
#       key is in no line of the installer's log but wine's property dump (see key_logged);
#   a silent install with every property: rollout-agent.exe under Program Files, agent.yaml and
#       the pinned keys and CA under ProgramData with the properties' values, the service
#       registered (own process, automatic start, LocalSystem, --config naming that agent.yaml),
#       started by the install, enrolled with the server (its identity in the state directory,
#       the agent in the server's list, on the channel the property named);
#   recovery actions: read back with `rollout-agent.exe show-recovery rollout-agent`; wine's
#       services.exe accepts SERVICE_CONFIG_FAILURE_ACTIONS but does not store it (a FIXME in
#       programs/services/rpc.c) and knows neither SERVICE_CONFIG_FAILURE_ACTIONS_FLAG nor the
#       query (ERROR_INVALID_LEVEL), so under wine only the install's success says the setting
#       was accepted; on Windows the read-back must be the policy;
#   an uninstall (msiexec /x, after `sc stop`: see there): the service and the program files
#       gone; the state (identity), the config directory and the managed versions stay, by design;
#   a reinstall without properties: the kept config used unchanged, the same identity, running.
# Expects WINEPREFIX to be a booted prefix of its own (scripts/windows-test makes one).
# usage: windows_msi.sh HOST_BIN_DIR WINDOWS_BIN_DIR MSI WORK_DIR
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 HOST_BIN_DIR WINDOWS_BIN_DIR MSI WORK_DIR" >&2; exit 2; }
host=$1 win=$2 msi=$3 work=$4
source "$(dirname "$0")/lib/server.sh"
[ -f "$msi" ] || fail "$msi not built (scripts/windows-msi)"
demo="$win/agent/rollout-demo-agent.exe"
[ -f "$demo" ] || fail "$demo not built (the windows preset)"
[ -n "${WINEPREFIX:-}" ] || fail "WINEPREFIX is not set (a throw-away prefix, never ~/.wine)"
command -v wine >/dev/null || fail "wine missing (Debian package wine64)"

rm -rf "$work"
mkdir -p "$work"
cp "$msi" "$work/rollout-agent.msi"
msi_win="Z:$work/rollout-agent.msi"
drive="$WINEPREFIX/drive_c"
exe="$drive/Program Files/RolloutAgent/rollout-agent.exe"
data="$drive/ProgramData/RolloutAgent"
svc=rollout-agent
start_server

# What an admin copies from the .pub / .pem files: the base64 between the armour lines.
body() { sed '1d;$d' "$1" | tr -d '\n'; }
release_key=$(body "$work/keys/release.pub")
directive_key=$(body "$work/keys/directive.pub")
server_ca=$(body "$work/tls.pem")

msiexec() {  # msiexec NAME ARGS...: prints its exit code; the installer's log is $work/NAME.log
  local log=$1 rc=0
  shift
  timeout 300 wine msiexec "$@" /qn /l*v "Z:$work/$log.log" >/dev/null 2>&1 || rc=$?
  echo "$rc"
}
service_registered() { wine sc query "$svc" >/dev/null 2>&1; }
# The enrollment key in an installer's log: Windows writes MsiHiddenProperties' values as hidden
# and never logs the setup step's command line (HideTarget); wine logs neither command line, but
# ignores MsiHiddenProperties in its closing dump of every property, so that one line is allowed
# (and noted) and any other is a failure.
key_logged() {
  local log="$work/$1.log"
  if grep -a -F "$enroll" "$log" | tr -d '\r' | grep -qvx "Property([SC]): ENROLLMENT_KEY = $enroll"; then
    return 0
  fi
  grep -a -qF "Property(S): ENROLLMENT_KEY = $enroll" "$log" &&
    echo "note: wine's property dump in $1.log shows ENROLLMENT_KEY (wine ignores MsiHiddenProperties)" >&2
  return 1
}
stop_service() { wine sc stop "$svc" >/dev/null 2>&1 || true; }
trap 'stop_service; stop_all' EXIT

# 1. A bad property: refused by the setup step, the install rolled back.
rc=$(msiexec bad /i "$msi_win" SERVER_URL=http://127.0.0.1:1 "ENROLLMENT_KEY=$enroll" \
  "RELEASE_KEYS=$release_key" "DIRECTIVE_KEYS=$directive_key")
# Windows' msiexec exits 1603 (ERROR_INSTALL_FAILURE), wine's 1627 (ERROR_FUNCTION_FAILED); the
# Linux side sees the low byte: 67 or 91.
case "$rc" in 67 | 91) ;; *) fail "an install with SERVER_URL=http://... exited $rc, not 1603/1627" ;; esac
[ ! -e "$data/config" ] || fail "a refused install left $data/config"
key_logged bad && fail "the enrollment key is in the installer's log"
# Rolled back: neither the program files nor the service are left, and the setup step, which
# validates before it touches anything, made no state directory either.
[ ! -e "$exe" ] || fail "a refused install left rollout-agent.exe"
service_registered && fail "a refused install left the service registered"
[ ! -e "$data" ] || fail "a refused install left $data"
echo "bad property: install failed (exit $rc), rolled back, no config written, the key not in the log" >&2

# 2. The silent install a fleet runs, on an endpoint whose managed agent (here the demo agent,
# 1.0.0) is already in place: the agent runs nothing else, and without it the service would only
# start, exit and be restarted by its recovery actions until one is deployed.
managed="$drive/Program Files/RolloutAgent/managed"
mkdir -p "$managed/versions/1.0.0"
wine "$demo" --make-variant "Z:$managed/versions/1.0.0/agent.exe" --behaviour healthy \
  --version 1.0.0 >/dev/null || fail "make-variant 1.0.0 under wine"
printf 'versions/1.0.0\n' >"$managed/current"
rc=$(msiexec install /i "$msi_win" "SERVER_URL=$url" "ENROLLMENT_KEY=$enroll" \
  "RELEASE_KEYS=$release_key" "DIRECTIVE_KEYS=$directive_key" "SERVER_CA=$server_ca" CHANNEL=beta)
[ "$rc" = 0 ] || fail "the silent install exited $rc: $(tail -20 "$work/install.log")"
key_logged install && fail "the enrollment key is in the installer's log"
[ -f "$exe" ] || fail "no rollout-agent.exe under Program Files"
yaml="$data/config/agent.yaml"
[ -f "$yaml" ] || fail "no $yaml"
for line in "server_url: '$url'" "enrollment_key: '$enroll'" "channel_hint: beta" \
  "executable: 'agent.exe'" \
  "ca_file: 'C:\\ProgramData\\RolloutAgent/config/server-ca.pem'"; do
  grep -qxF "$line" "$yaml" || fail "agent.yaml lacks \"$line\": $(cat "$yaml")"
done
cmp -s "$data/config/release-1.pub" "$work/keys/release.pub" || fail "release-1.pub differs"
cmp -s "$data/config/directive-1.pub" "$work/keys/directive.pub" || fail "directive-1.pub differs"
cmp -s "$data/config/server-ca.pem" "$work/tls.pem" || fail "server-ca.pem differs"
# wine's sc has no `qc`: the service's configuration from the registry, where the SCM keeps it.
qc=$(wine reg query "HKLM\\System\\CurrentControlSet\\Services\\$svc" 2>/dev/null | tr -d '\r') ||
  fail "the service is not registered"
grep -qE '^ +Type +REG_DWORD +0x10$' <<<"$qc" || fail "not an own-process service: $qc"
grep -qE '^ +Start +REG_DWORD +0x2$' <<<"$qc" || fail "not automatic start: $qc"
grep -qE '^ +ObjectName +REG_SZ +LocalSystem$' <<<"$qc" || fail "not LocalSystem: $qc"
# Windows Installer quotes the executable's path in ImagePath; wine's does not.
grep -qE '^ +ImagePath +REG_SZ +"?C:\\Program Files\\RolloutAgent\\rollout-agent.exe"? --config "C:\\ProgramData\\RolloutAgent\\config\\agent.yaml"$' <<<"$qc" ||
  fail "the service does not run with the installed config: $qc"
echo "install: rollout-agent.exe in Program Files, config from the properties, service auto start" >&2

enrolled() { [ -f "$data/identity.json" ]; }
wait_for 120 "the installed service enrolling" enrolled
id=$(jq -r .agent_id "$data/identity.json")
listed() { get /api/agents | jq -e --arg id "$id" '.agents[] | select(.id == $id and .os == "windows")' >/dev/null; }
wait_for 60 "agent $id in the server's list" listed
echo "service: started by the install, enrolled as $id" >&2

rc=0
recovery=$(wine "$exe" show-recovery "$svc" 2>&1 | tr -d '\r') || rc=$?
expected="service $svc: restart after 10 s, 30 s, 60 s; reset after 86400 s; also on an error exit"
wine_says="rollout-agent show-recovery: cannot read the recovery actions of service $svc: Invalid level (error 124)"
if [ "$rc" = 0 ] && [ "$recovery" = "$expected" ]; then
  echo "recovery: $recovery" >&2
elif [ "$rc" = 1 ] && [ "$recovery" = "$wine_says" ]; then
  echo "note: wine cannot read recovery actions back (ERROR_INVALID_LEVEL); the install's setup step set them" >&2
else
  fail "the service's recovery actions read back as (exit $rc): $recovery"
fi

# 3. Uninstall: the service and the program files go, the state and config stay.
# wine's StopServices does not wait for STOPPED (Windows does, Wait="yes"), and the agent takes
# up to its 10 s grace to stop the managed agent: RemoveFiles would then meet a running image
# and leave it. So under wine the service is stopped first, as an admin's script may do anyway.
sc_state() { wine sc query "$svc" 2>/dev/null | tr -d '\r' | sed -n 's/^ *STATE *: *[0-9]* *\([A-Z_]*\).*/\1/p'; }
stopped() { [ "$(sc_state)" = STOPPED ]; }
wine sc stop "$svc" >/dev/null || fail "sc stop"
wait_for 30 "the service STOPPED" stopped
rc=$(msiexec uninstall /x "$msi_win")
[ "$rc" = 0 ] || fail "the uninstall exited $rc"
gone() { ! service_registered; }
wait_for 30 "the service deleted by the uninstall" gone
[ ! -e "$exe" ] || fail "rollout-agent.exe is still there after the uninstall"
[ -f "$yaml" ] && [ -f "$data/identity.json" ] || fail "the uninstall removed the config or state"
echo "uninstall: service and rollout-agent.exe removed; config and identity kept" >&2

# 4. A reinstall without any property (EXISTING_CONFIG=keep, the default): the kept config and
# identity are used as they are, the service runs again as the same agent.
before=$(cat "$yaml")
rc=$(msiexec reinstall /i "$msi_win")
[ "$rc" = 0 ] || fail "a reinstall without properties exited $rc"
[ "$(cat "$yaml")" = "$before" ] || fail "the reinstall changed agent.yaml"
[ "$(jq -r .agent_id "$data/identity.json")" = "$id" ] || fail "the reinstall changed the identity"
running() { [ "$(sc_state)" = RUNNING ]; }
wait_for 60 "the reinstalled service RUNNING" running
wine sc stop "$svc" >/dev/null || fail "sc stop"
wait_for 30 "the service STOPPED" stopped
rc=$(msiexec uninstall-2 /x "$msi_win")
[ "$rc" = 0 ] || fail "the second uninstall exited $rc"
wait_for 30 "the service deleted by the second uninstall" gone
echo "reinstall without properties: config and identity kept, the service running again" >&2
echo "MSI under wine: ok" >&2
