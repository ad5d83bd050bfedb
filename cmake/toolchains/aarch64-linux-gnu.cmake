# Cross build for aarch64 Linux with Debian's cross compiler (g++-aarch64-linux-gnu) against the
# multiarch :arm64 development packages installed beside the amd64 ones (scripts/lib/common.sh).
# Headers come from /usr/include, libraries and CMake/pkg-config files from
# /usr/lib/aarch64-linux-gnu. Test programs run under qemu-aarch64 (user mode; no binfmt needed):
# ctest and gtest_discover_tests prefix every command with CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_STRIP aarch64-linux-gnu-strip CACHE FILEPATH "")

# Search the host's programs, but only the target's libraries and headers: the amd64 copies of the
# same packages are in /usr/lib/x86_64-linux-gnu and must never be picked up.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# -L /: the programs run on the arm64 runtime of the multiarch packages (libc6:arm64,
# libstdc++6:arm64, libcurl4:arm64, ...), exactly as on a Debian arm64 machine. Never
# -L /usr/aarch64-linux-gnu: there qemu takes the loader from the cross toolchain's
# libc6-arm64-cross (2.36-8cross1) while that loader, searching /lib/aarch64-linux-gnu first (and
# qemu falling back to the host path), loads libc.so.6 from libc6:arm64 (2.36-9+deb12u14). The two
# builds disagree on the private `_rtld_global` layout (4512 vs 4520 bytes), so glibc's thread
# stack lists are corrupt: a forked child spins in __reclaim_stacks and pthread_create spins in
# get_cached_stack (qemu -d exec shows the list walk never reaching its head). That, not qemu,
# was the "qemu-user 7.2 hangs on fork, cross-thread waits and curl" seen here.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)

