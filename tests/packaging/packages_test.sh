#!/usr/bin/env bash
# The .deb and .rpm packages, checked and installed on this machine (as root), then removed so
# the machine is left as it was:
#   - lintian on every .deb with no errors (its warnings are printed); rpm -qp checks on every
#     .rpm: the files, %config(noreplace) configs, and the scriptlets' systemd guard;
#   - the OLD amd64 rollout-agent + rollout-server installed with dpkg -i: owners and modes of the
#     state and config directories, the server's system user, no unit enabled or process started
#     (systemd is not PID 1 here), the units pass systemd-analyze verify, and the installed
#     binaries run from /usr/bin with the packaged configs;
#   - both conffiles edited, then the NEW packages installed over them: edits and the server's
#     directive key kept; dpkg -r keeps state, dpkg --purge removes it and the user;
#   - the arm64 rollout-agent installed (arm64 is a dpkg foreign architecture here) and run under
#     qemu-aarch64, then purged;
#   - everything the packages touch listed before and after: the two listings must be equal.
# usage: packages_test.sh OLD_DIR NEW_DIR   (each holding the .deb and .rpm files of one version)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OLD_DIR NEW_DIR" >&2; exit 2; }
old=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*" >&2; }
[ "$(id -u)" -eq 0 ] || fail "installs packages: run as root"
for p in rollout-agent rollout-server; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
    fail "$p is installed on this machine already; refusing to replace and purge it"
  fi
done

one() { # DIR GLOB -> the single matching file
  local m=("$1"/$2)
  [ ${#m[@]} -eq 1 ] && [ -f "${m[0]}" ] || fail "expected one $2 in $1, found: ${m[*]}"
  printf '%s\n' "${m[0]}"
}
old_agent=$(one "$old" 'rollout-agent_*_amd64.deb')
old_server=$(one "$old" 'rollout-server_*_amd64.deb')
new_agent=$(one "$new" 'rollout-agent_*_amd64.deb')
new_server=$(one "$new" 'rollout-server_*_amd64.deb')
new_version=$(dpkg-deb -f "$new_agent" Version)
old_version=$(dpkg-deb -f "$old_agent" Version)
dpkg --compare-versions "$new_version" gt "$old_version" ||
  fail "$new_version is not newer than $old_version"

# Everything the packages may create, listed with owners and modes; users and groups; dpkg's view.
paths=(/etc/rollout /var/lib/rollout-agent /var/lib/rollout-server /opt/rollout-agent
  /usr/bin/rollout-agent /usr/bin/rollout-server /usr/bin/rolloutctl
  /usr/lib/systemd/system/rollout-agent.service /usr/lib/systemd/system/rollout-server.service
  /etc/systemd/system/multi-user.target.wants/rollout-agent.service
  /etc/systemd/system/multi-user.target.wants/rollout-server.service
  /usr/lib/cmake/rollout /usr/lib/pkgconfig/rollout_plugin.pc /usr/include/rollout_plugin.h
  /usr/share/doc/rollout-agent /usr/share/doc/rollout-server)
snapshot() {
  local p
  for p in "${paths[@]}"; do
    if [ -e "$p" ] || [ -L "$p" ]; then find "$p" -printf '%p %u:%g %m\n' | sort; else echo "absent $p"; fi
  done
  ls /usr/lib/librollout_plugin* 2>/dev/null || echo "no librollout_plugin"
  getent passwd rollout-server || echo "no user rollout-server"
  getent group rollout-server || echo "no group rollout-server"
  dpkg-query -W -f='${Package}:${Architecture} ${Status}\n' 'rollout-*' 2>/dev/null || true
}
before=$(snapshot)
cleanup() {
  dpkg --purge rollout-agent rollout-agent:arm64 rollout-server >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "lintian"
for deb in "$new"/*.deb; do
  out=$(lintian --fail-on error --tag-display-limit 0 "$deb" 2>&1) ||
    { printf '%s\n' "$out" >&2; fail "lintian found errors in $(basename "$deb")"; }
  out=$(grep -v '^running with root privileges' <<<"$out" || true)
  printf '%s: %s\n' "$(basename "$deb")" "${out:-clean}" | sed 's/^/  /' >&2
done

step "rpm checks"
for rpmf in "$new"/*.rpm; do
  name=$(rpm -qp --qf '%{NAME}' "$rpmf" 2>/dev/null)
  files=$(rpm -qpl "$rpmf" 2>/dev/null)
  scripts=$(rpm -qp --scripts "$rpmf" 2>/dev/null)
  configs=$(rpm -qp --configfiles "$rpmf" 2>/dev/null)
  bin=${name}
  grep -qx "/usr/bin/$bin" <<<"$files" || fail "$rpmf lacks /usr/bin/$bin"
  grep -qx "/usr/lib/systemd/system/$name.service" <<<"$files" || fail "$rpmf lacks its unit"
  conf=/etc/rollout/${name#rollout-}.yaml
  grep -qx "$conf" <<<"$configs" || fail "$rpmf does not mark $conf as a config file"
  rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpmf" 2>/dev/null | grep -q "^cn $conf$" ||
    fail "$conf is not %config(noreplace) in $rpmf"
  grep -q 'if \[ -d /run/systemd/system \]' <<<"$scripts" || fail "$rpmf scriptlets lack the systemd guard"
  if [ "$name" = rollout-server ]; then
    grep -q 'useradd --system' <<<"$scripts" || fail "$rpmf does not create its system user"
    for f in /usr/bin/rolloutctl /usr/include/rollout_plugin.h /usr/lib/cmake/rollout/rolloutConfig.cmake \
      /usr/lib/pkgconfig/rollout_plugin.pc; do
      grep -qx "$f" <<<"$files" || fail "$rpmf lacks $f"
    done
  fi
  echo "  $(basename "$rpmf"): $(wc -l <<<"$files") files, scriptlets and %config(noreplace) ok" >&2
done

step "install $old_version (dpkg -i)"
log=$(dpkg -i "$old_agent" "$old_server" 2>&1) || { printf '%s\n' "$log" >&2; fail "dpkg -i failed"; }
grep -q "systemd is not running" <<<"$log" || fail "postinst did not notice that systemd is not running"
mode() { stat -c '%U:%G %a' "$1"; }
[ "$(mode /var/lib/rollout-agent)" = "root:root 700" ] || fail "/var/lib/rollout-agent: $(mode /var/lib/rollout-agent)"
[ "$(mode /opt/rollout-agent)" = "root:root 755" ] || fail "/opt/rollout-agent: $(mode /opt/rollout-agent)"
[ "$(mode /etc/rollout/agent.yaml)" = "root:root 600" ] || fail "agent.yaml: $(mode /etc/rollout/agent.yaml)"
[ "$(mode /etc/rollout/server.yaml)" = "root:rollout-server 640" ] || fail "server.yaml: $(mode /etc/rollout/server.yaml)"
[ "$(mode /var/lib/rollout-server)" = "rollout-server:rollout-server 700" ] ||
  fail "/var/lib/rollout-server: $(mode /var/lib/rollout-server)"
[ "$(mode /var/lib/rollout-server/keys/directive.key)" = "rollout-server:rollout-server 600" ] ||
  fail "directive.key: $(mode /var/lib/rollout-server/keys/directive.key)"
getent passwd rollout-server | grep -q ':/var/lib/rollout-server:/usr/sbin/nologin$' ||
  fail "rollout-server user: $(getent passwd rollout-server)"
grep -qx /etc/rollout/agent.yaml /var/lib/dpkg/info/rollout-agent.conffiles || fail "agent.yaml is not a conffile"
grep -qx /etc/rollout/server.yaml /var/lib/dpkg/info/rollout-server.conffiles || fail "server.yaml is not a conffile"
for u in rollout-agent rollout-server; do
  [ ! -e "/etc/systemd/system/multi-user.target.wants/$u.service" ] || fail "$u enabled without systemd"
done
for p in /proc/[0-9]*; do
  case $(readlink "$p/exe" 2>/dev/null) in /usr/bin/rollout-agent | /usr/bin/rollout-server)
    fail "a packaged service was started: pid ${p#/proc/}" ;;
  esac
done

step "the installed units and binaries"
systemd-analyze verify /usr/lib/systemd/system/rollout-agent.service \
  /usr/lib/systemd/system/rollout-server.service || fail "systemd-analyze verify"
/usr/bin/rollout-agent --version | grep -qx "rollout-agent ${new_version%%~*}" || fail "rollout-agent --version"
/usr/bin/rollout-agent --config /etc/rollout/agent.yaml --check-config >/dev/null ||
  fail "rollout-agent --check-config with the packaged config"
# As the service would: the server's user reads its config through the group.
setpriv --reuid rollout-server --regid rollout-server --clear-groups \
  /usr/bin/rollout-server --config /etc/rollout/server.yaml --check-config >/dev/null ||
  fail "rollout-server --check-config with the packaged config, as rollout-server"
/usr/bin/rolloutctl --help >/dev/null || fail "rolloutctl --help"
echo "  units verified; rollout-agent, rollout-server (as its user) and rolloutctl run" >&2

step "upgrade to $new_version keeps edited conffiles and state"
echo "# edited by the package test" >> /etc/rollout/agent.yaml
echo "# edited by the package test" >> /etc/rollout/server.yaml
key_sum=$(sha256sum /var/lib/rollout-server/keys/directive.key)
dpkg -i "$new_agent" "$new_server" >/dev/null 2>&1 || fail "upgrade with dpkg -i failed"
[ "$(dpkg-query -W -f='${Version}' rollout-agent)" = "$new_version" ] || fail "rollout-agent not upgraded"
[ "$(dpkg-query -W -f='${Version}' rollout-server)" = "$new_version" ] || fail "rollout-server not upgraded"
tail -1 /etc/rollout/agent.yaml | grep -q "edited by the package test" || fail "agent.yaml edit lost"
tail -1 /etc/rollout/server.yaml | grep -q "edited by the package test" || fail "server.yaml edit lost"
[ "$(sha256sum /var/lib/rollout-server/keys/directive.key)" = "$key_sum" ] || fail "directive key replaced"
[ "$(mode /etc/rollout/server.yaml)" = "root:rollout-server 640" ] || fail "server.yaml mode after upgrade"

step "remove keeps state, purge removes it"
dpkg -r rollout-agent rollout-server >/dev/null 2>&1 || fail "dpkg -r failed"
[ ! -e /usr/bin/rollout-agent ] && [ ! -e /usr/bin/rollout-server ] || fail "binaries left after remove"
[ -f /var/lib/rollout-server/keys/directive.key ] && [ -d /var/lib/rollout-agent ] || fail "state lost on remove"
[ -f /etc/rollout/agent.yaml ] || fail "conffile lost on remove"
dpkg --purge rollout-agent rollout-server >/dev/null 2>&1 || fail "dpkg --purge failed"

step "arm64 rollout-agent (foreign architecture) under qemu-aarch64"
new_agent_arm64=$(one "$new" 'rollout-agent_*_arm64.deb')
dpkg -i "$new_agent_arm64" >/dev/null 2>&1 || fail "dpkg -i $(basename "$new_agent_arm64")"
[ "$(dpkg-query -W -f='${Architecture}' rollout-agent)" = arm64 ] || fail "not the arm64 package"
# -L /: the arm64 runtime of the multiarch packages (cmake/toolchains/aarch64-linux-gnu.cmake).
qemu-aarch64 -L / /usr/bin/rollout-agent --version | grep -q "^rollout-agent " ||
  fail "the installed arm64 rollout-agent does not run under qemu-aarch64"
qemu-aarch64 -L / /usr/bin/rollout-agent --config /etc/rollout/agent.yaml --check-config >/dev/null ||
  fail "the arm64 rollout-agent --check-config with its packaged config"
dpkg --purge rollout-agent:arm64 >/dev/null 2>&1 || fail "dpkg --purge rollout-agent:arm64"

step "the machine is as it was"
after=$(snapshot)
if [ "$before" != "$after" ]; then
  diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&2 || true
  fail "the packages left something behind"
fi
printf '%s\n' "$after" | sed 's/^/  /' >&2
echo "packages: ok" >&2
