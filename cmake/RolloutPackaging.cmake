# What `cmake --install` lays down and what CPack packs from it, by component:
#   agent   rollout-agent, its systemd unit, /etc/rollout/agent.yaml            -> rollout-agent
#   server  rollout-server, rolloutctl, librollout_plugin (+ header, CMake package config and
#           pkg-config file for RMM servers that embed it), its unit, /etc/rollout/server.yaml
#                                                                                -> rollout-server
# Both as .deb and .rpm (scripts/package). The maintainer scripts in installers/debian and
# installers/rpm create the state directories and the server's system user, and enable and start
# the unit only when systemd is running (not in a chroot or a container without it).
include(CMakePackageConfigHelpers)

set(ROLLOUT_PACKAGE_VERSION "${PROJECT_VERSION}${ROLLOUT_PACKAGE_VERSION_SUFFIX}")
set(_inst ${PROJECT_SOURCE_DIR}/installers)
set(_pkg_build ${PROJECT_BINARY_DIR}/packaging)
# /usr/lib/systemd/system: read by systemd on Debian (merged /usr) and on RPM distributions alike.
set(ROLLOUT_UNIT_DIR ${CMAKE_INSTALL_LIBDIR}/systemd/system)
if(NOT CMAKE_INSTALL_LIBDIR STREQUAL "lib")
  set(ROLLOUT_UNIT_DIR lib/systemd/system)
endif()

# Per-package documentation: the copyright file and a changelog whose top entry is this version
# (Debian policy; lintian checks both), gzip -n so the package bytes do not depend on the time.
string(TIMESTAMP _pkg_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(ROLLOUT_PACKAGE_CONTACT "Safe Agent Rollout maintainers <rollout-maintainers@example.com>")
foreach(_pkg rollout-agent rollout-server)
  file(WRITE ${_pkg_build}/${_pkg}/changelog
    "${_pkg} (${ROLLOUT_PACKAGE_VERSION}) stable; urgency=medium\n\n"
    "  * Built from the Safe Agent Rollout tree, version ${ROLLOUT_PACKAGE_VERSION}.\n\n"
    " -- ${ROLLOUT_PACKAGE_CONTACT}  ${_pkg_date}\n")
  execute_process(COMMAND gzip -9nf ${_pkg_build}/${_pkg}/changelog RESULT_VARIABLE _gz)
  if(NOT _gz EQUAL 0)
    message(FATAL_ERROR "gzip of ${_pkg_build}/${_pkg}/changelog failed")
  endif()
endforeach()

# --- agent --------------------------------------------------------------------------------------
set(_agent_doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/rollout-agent)
install(FILES ${_inst}/systemd/rollout-agent.service DESTINATION ${ROLLOUT_UNIT_DIR} COMPONENT agent)
# The agent's config holds its enrollment key: root only.
install(FILES ${PROJECT_SOURCE_DIR}/conf/agent.example.yaml DESTINATION /etc/rollout
  RENAME agent.yaml PERMISSIONS OWNER_READ OWNER_WRITE COMPONENT agent)
install(FILES ${_inst}/packaging/copyright ${_pkg_build}/rollout-agent/changelog.gz
  ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${_agent_doc} COMPONENT agent)

# --- server -------------------------------------------------------------------------------------
if(TARGET rollout_plugin)
  set(_server_doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/rollout-server)
  install(FILES ${_inst}/systemd/rollout-server.service DESTINATION ${ROLLOUT_UNIT_DIR}
    COMPONENT server)
  # Readable by the server's group, which postinst creates (root:rollout-server 0640).
  install(FILES ${PROJECT_SOURCE_DIR}/conf/server.example.yaml DESTINATION /etc/rollout
    RENAME server.yaml PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ COMPONENT server)
  install(FILES ${_inst}/packaging/copyright ${_pkg_build}/rollout-server/changelog.gz
    ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${_server_doc} COMPONENT server)

  # The embeddable plugin: a versioned shared library, find_package(rollout) -> rollout::plugin,
  # and pkg-config rollout_plugin. Both files locate the prefix from where they are installed.
  set_target_properties(rollout_plugin PROPERTIES VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR} EXPORT_NAME plugin)
  configure_package_config_file(${_inst}/packaging/rolloutConfig.cmake.in
    ${_pkg_build}/rolloutConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/rollout)
  write_basic_package_version_file(${_pkg_build}/rolloutConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES ${_pkg_build}/rolloutConfig.cmake ${_pkg_build}/rolloutConfigVersion.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/rollout COMPONENT server)
  file(RELATIVE_PATH ROLLOUT_PC_PREFIX_FROM_PCDIR
    /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
  configure_file(${_inst}/packaging/rollout_plugin.pc.in ${_pkg_build}/rollout_plugin.pc @ONLY)
  install(FILES ${_pkg_build}/rollout_plugin.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
    COMPONENT server)
endif()

# --- CPack --------------------------------------------------------------------------------------
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(_deb_arch arm64)
  set(_rpm_arch aarch64)
else()
  set(_deb_arch amd64)
  set(_rpm_arch x86_64)
endif()
set(CPACK_PACKAGE_NAME rollout)
set(CPACK_PACKAGE_VENDOR "Safe Agent Rollout")
set(CPACK_PACKAGE_VERSION ${ROLLOUT_PACKAGE_VERSION})
set(CPACK_PACKAGE_CONTACT ${ROLLOUT_PACKAGE_CONTACT})
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB RPM)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL agent)
if(TARGET rollout_plugin)
  list(APPEND CPACK_COMPONENTS_ALL server)
endif()
set(CPACK_COMPONENT_AGENT_DESCRIPTION
  "Safe Agent Rollout update controller (rollout-agent)\n"
  "Keeps the managed RMM agent running and updates it safely: signed release\n"
  "manifests and directives, verified resumable downloads, an atomic switch,\n"
  "automatic revert of a version that crashes in probation, and durable outcome\n"
  "reports.")
set(CPACK_COMPONENT_SERVER_DESCRIPTION
  "Safe Agent Rollout server (rollout-server, rolloutctl, librollout_plugin)\n"
  "Publishes signed agent releases to beta and stable channels, judges their\n"
  "health from the fleet's reports, and promotes or rolls them back. With the\n"
  "Updates page, an HTTP API, the rolloutctl command line and a C ABI plugin for\n"
  "RMM servers that embed it.")
# (The strings above are a list of lines: joined without the list separator. The first line is
# the package's synopsis.)
string(REPLACE ";" "" CPACK_COMPONENT_AGENT_DESCRIPTION "${CPACK_COMPONENT_AGENT_DESCRIPTION}")
string(REPLACE ";" "" CPACK_COMPONENT_SERVER_DESCRIPTION "${CPACK_COMPONENT_SERVER_DESCRIPTION}")
set(CPACK_RPM_AGENT_PACKAGE_SUMMARY "Safe Agent Rollout update controller (rollout-agent)")
set(CPACK_RPM_SERVER_PACKAGE_SUMMARY
  "Safe Agent Rollout server (rollout-server, rolloutctl, librollout_plugin)")

# .deb
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${_deb_arch})
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME rollout-agent)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME rollout-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS passwd)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)  # librollout_plugin's shlibs file
foreach(_c agent server)
  string(TOUPPER ${_c} _C)
  set(CPACK_DEBIAN_${_C}_PACKAGE_CONTROL_EXTRA
    ${_inst}/debian/${_c}/conffiles ${_inst}/debian/${_c}/postinst ${_inst}/debian/${_c}/prerm
    ${_inst}/debian/${_c}/postrm)
endforeach()
list(APPEND CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA ${_inst}/debian/server/triggers)

# .rpm: the same layout; %config(noreplace) keeps an edited config across upgrades.
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_ARCHITECTURE ${_rpm_arch})
set(CPACK_RPM_PACKAGE_LICENSE "Proprietary")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_AGENT_PACKAGE_NAME rollout-agent)
set(CPACK_RPM_SERVER_PACKAGE_NAME rollout-server)
set(CPACK_RPM_SERVER_PACKAGE_REQUIRES "shadow-utils")
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
  /etc /etc/rollout /usr/lib/systemd /usr/lib/systemd/system /usr/lib/cmake /usr/lib/pkgconfig
  /usr/share/doc)
set(CPACK_RPM_AGENT_USER_FILELIST "%config(noreplace) /etc/rollout/agent.yaml")
set(CPACK_RPM_SERVER_USER_FILELIST "%config(noreplace) /etc/rollout/server.yaml")
foreach(_c agent server)
  string(TOUPPER ${_c} _C)
  set(CPACK_RPM_${_C}_POST_INSTALL_SCRIPT_FILE ${_inst}/rpm/${_c}-post.sh)
  set(CPACK_RPM_${_C}_PRE_UNINSTALL_SCRIPT_FILE ${_inst}/rpm/${_c}-preun.sh)
  set(CPACK_RPM_${_C}_POST_UNINSTALL_SCRIPT_FILE ${_inst}/rpm/${_c}-postun.sh)
endforeach()

include(CPack)
