# Dependencies of the Windows (mingw-w64) build, which holds the endpoint parts only: common/,
# platform/ (and, later, agent/) with their tests; the server and rolloutctl stay Linux-only.
# OpenSSL, libcurl and yaml-cpp are static libraries from scripts/windows-deps (found through the
# toolchain's CMAKE_FIND_ROOT_PATH); Boost is header-only from the build host's Debian packages;
# GoogleTest is compiled from Debian's /usr/src/googletest.
set(OPENSSL_USE_STATIC_LIBS ON)
find_package(OpenSSL 3.0 REQUIRED)
# Static OpenSSL on Windows needs the socket and certificate-store system libraries.
set_property(TARGET OpenSSL::Crypto APPEND PROPERTY INTERFACE_LINK_LIBRARIES ws2_32 crypt32)
find_package(CURL REQUIRED CONFIG)
find_package(yaml-cpp REQUIRED)
find_package(Threads REQUIRED)

# Boost from /usr/include without putting /usr/include itself on the cross compiler's path (its
# glibc headers would shadow mingw's): a directory holding only a `boost` link.
set(_rollout_boost_dir ${CMAKE_BINARY_DIR}/boost-include)
file(MAKE_DIRECTORY ${_rollout_boost_dir})
if(NOT EXISTS ${_rollout_boost_dir}/boost)
  file(CREATE_LINK /usr/include/boost ${_rollout_boost_dir}/boost SYMBOLIC)
endif()
add_library(Boost::headers INTERFACE IMPORTED)
set_target_properties(Boost::headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${_rollout_boost_dir})
# Boost.JSON's compiled part in header-only form (its documented <boost/json/src.hpp>, once).
add_library(rollout_boost_json STATIC ${CMAKE_CURRENT_LIST_DIR}/windows/boost_json.cpp)
target_link_libraries(rollout_boost_json PUBLIC Boost::headers)
target_compile_features(rollout_boost_json PUBLIC cxx_std_20)
add_library(Boost::json ALIAS rollout_boost_json)

if(ROLLOUT_BUILD_TESTS)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK ON CACHE BOOL "" FORCE)
  add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL SYSTEM)
  # googletest's own CMakeLists defines the GTest:: aliases the tests link.
endif()
