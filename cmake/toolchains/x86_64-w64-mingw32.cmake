# Cross-compiling for 64-bit Windows with Debian's mingw-w64, posix thread model (std::thread,
# std::mutex and <stop_token> need winpthreads; the win32 model has none of them in GCC 12).
# The third-party libraries (OpenSSL, libcurl, yaml-cpp) come from scripts/windows-deps: its
# prefix is ROLLOUT_MINGW_PREFIX (environment or -D). Executables are linked statically so one
# .exe runs on a bare Windows (and under wine) without libstdc++/winpthread DLLs beside it.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(_rollout_triple x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_rollout_triple}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_rollout_triple}-g++-posix)
set(CMAKE_RC_COMPILER ${_rollout_triple}-windres)

if(NOT ROLLOUT_MINGW_PREFIX AND DEFINED ENV{ROLLOUT_MINGW_PREFIX})
  set(ROLLOUT_MINGW_PREFIX "$ENV{ROLLOUT_MINGW_PREFIX}")
endif()
# try_compile projects re-read this file; hand them the prefix too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ROLLOUT_MINGW_PREFIX)

# Look for libraries and headers only in the mingw sysroot and the dependency prefix, never in
# the build host's /usr (its glibc headers would silently win); programs come from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${_rollout_triple} ${ROLLOUT_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# ctest (and anything else CMake runs at build time) starts the .exe files through wine.
find_program(ROLLOUT_WINE NAMES wine64 wine)
if(ROLLOUT_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ROLLOUT_WINE})
endif()
