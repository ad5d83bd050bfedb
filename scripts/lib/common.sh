# Shared by scripts/run and scripts/test: logging, root/sudo, and installing what is missing.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT

say() { if [ -t 2 ]; then printf '\033[1m==>\033[0m %s\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian 12 packages the project builds, tests and runs with. Kept in one place so the run and the
# test commands can never disagree about what a fresh machine needs.
ROLLOUT_PACKAGES=(
  cmake ninja-build g++ pkg-config clang-14 libclang-rt-14-dev clang-format
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl libcurl4-openssl-dev curl libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev sqlite3 libpq-dev postgresql-15 libsystemd-dev
  # The several-instances fleet (scripts/lib/haproxy.sh): a TCP load balancer. Its package may start
  # the system's haproxy service on install; that one binds nothing and is never used.
  haproxy
  chromium
  # The Windows stage (scripts/windows-deps, scripts/windows-test): mingw-w64's x86_64 posix-
  # thread compilers only (not the whole mingw-w64 set), dpkg-source for Debian's source
  # packages, wine to run the tests, wixl and msitools (msiinfo) for the MSI.
  g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix dpkg-dev wine wine64 wixl msitools
  g++-aarch64-linux-gnu qemu-user lintian rpm systemd jq
)

# The aarch64 cross build (cmake/toolchains/aarch64-linux-gnu.cmake) links against Debian's
# multiarch :arm64 development packages, installed beside the amd64 ones. Only what the agent,
# common, platform and their tests need: the server is not cross-built (its Boost.URL and SQLite
# are not needed). Every package here is Multi-Arch: same, so none replaces its amd64 twin;
# libyaml-cpp-dev is not (its :arm64 copy would remove the amd64 one), so only the arm64 runtime
# library is installed and cmake/cross/yaml-cppConfig.cmake pairs it with the amd64 headers.
# libc6:arm64 and libstdc++6:arm64 (pulled in by the others anyway) are the runtime every
# cross-built program runs on under `qemu-aarch64 -L /`, one glibc build for loader and libc
# (cmake/toolchains/aarch64-linux-gnu.cmake says why not the cross toolchain's copy).
ROLLOUT_ARM64_PACKAGES=(
  libc6:arm64 libstdc++6:arm64
  libssl-dev:arm64 libcurl4-openssl-dev:arm64 libyaml-cpp0.7:arm64
  libboost1.81-dev:arm64 libboost-json1.81-dev:arm64
  libgtest-dev:arm64 libgmock-dev:arm64 libsystemd-dev:arm64
)

install_missing() {
  local missing=() p extra=()
  # Node.js for the browser tests: Debian's packages unless a node and npm are already there
  # (e.g. from NodeSource, whose nodejs package conflicts with Debian's npm).
  command -v node >/dev/null 2>&1 || extra+=(nodejs)
  command -v npm >/dev/null 2>&1 || extra+=(npm)
  local update=
  # Multiarch: arm64 must be a foreign architecture with its package lists fetched before any
  # :arm64 package can be installed. Both steps are skipped once done.
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "adding the arm64 architecture (for the aarch64 cross build)"
    as_root dpkg --add-architecture arm64
    update=1
  fi
  compgen -G '/var/lib/apt/lists/*_binary-arm64_Packages*' >/dev/null || update=1
  for p in "${ROLLOUT_PACKAGES[@]}" "${ROLLOUT_ARM64_PACKAGES[@]}" "${extra[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ] && [ -z "$update" ]; then
    say "all $((${#ROLLOUT_PACKAGES[@]} + ${#ROLLOUT_ARM64_PACKAGES[@]})) required packages present"
    return
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  [ ${#missing[@]} -eq 0 ] && return
  say "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

jobs() { nproc 2>/dev/null || echo 2; }

build_preset() {
  local preset=$1
  say "configure + build ($preset)"
  cmake --preset "$preset" -S "$ROOT" >/dev/null
  cmake --build --preset "$preset" -j "$(jobs)"
}
