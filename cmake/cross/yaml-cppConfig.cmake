# yaml-cpp for the aarch64 cross build. Debian 12's libyaml-cpp-dev is not Multi-Arch: same, so
# installing its :arm64 copy would remove the amd64 one every native build needs. The runtime
# library libyaml-cpp0.7:arm64 is Multi-Arch: same, and the headers (from the amd64 -dev package,
# in /usr/include/yaml-cpp) do not depend on the architecture: link the one, include the other.
find_file(YAML_CPP_AARCH64_LIBRARY libyaml-cpp.so.0.7 PATHS /usr/lib/aarch64-linux-gnu
  NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH REQUIRED)
if(NOT EXISTS /usr/include/yaml-cpp/yaml.h)
  message(FATAL_ERROR "yaml-cpp headers missing: install libyaml-cpp-dev (amd64)")
endif()
if(NOT TARGET yaml-cpp)
  add_library(yaml-cpp SHARED IMPORTED)
  set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION ${YAML_CPP_AARCH64_LIBRARY}
    IMPORTED_NO_SONAME OFF)
endif()
set(yaml-cpp_FOUND TRUE)
