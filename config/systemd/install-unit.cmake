# Installs easgate.service (run by `cmake --install` and cpack). Decided at install time, from the
# prefix actually in use (cpack installs with /usr): the unit goes where systemd looks for that
# prefix, /lib/systemd/system for /usr as on Debian, and starts that prefix's easgate.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(unit_dir /lib/systemd/system)
else()
  set(unit_dir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
file(READ ${EASGATE_UNIT_SOURCE} unit)
string(REPLACE /usr/sbin/easgate ${CMAKE_INSTALL_PREFIX}/${EASGATE_SBINDIR}/easgate unit "${unit}")
file(WRITE ${EASGATE_UNIT_STAGING}/easgate.service "${unit}")
file(INSTALL DESTINATION ${unit_dir} TYPE FILE FILES ${EASGATE_UNIT_STAGING}/easgate.service)
