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

# -L: the emulated dynamic loader finds the cross toolchain's libstdc++ and the arm64 libc there.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)

