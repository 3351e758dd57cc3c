# Libraries linked into vsray's programs and its Python module rather than loaded at run
# time, so that the module needs, beyond the C and C++ runtimes, only libcurl and OpenSSL
# (and what libcurl itself loads). Included by the top-level CMakeLists.txt.

# spdlog and fmt header-only: Debian 12 ships no static spdlog or fmt, and one program must not
# mix the two modes. (Debian's spdlog::spdlog_header_only still links the shared fmt.)
add_library(vsray_spdlog INTERFACE)
target_compile_definitions(vsray_spdlog INTERFACE SPDLOG_FMT_EXTERNAL)
target_link_libraries(vsray_spdlog INTERFACE fmt::fmt-header-only Threads::Threads)

# pugixml: Debian's libpugixml.a is position independent; the shared library without it.
find_library(VSRAY_PUGIXML_STATIC NAMES libpugixml.a)
if(VSRAY_PUGIXML_STATIC)
  add_library(vsray_pugixml STATIC IMPORTED)
  set_target_properties(vsray_pugixml PROPERTIES IMPORTED_LOCATION "${VSRAY_PUGIXML_STATIC}")
  get_target_property(vsray_pugixml_includes pugixml::pugixml INTERFACE_INCLUDE_DIRECTORIES)
  if(vsray_pugixml_includes)
    set_target_properties(vsray_pugixml PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${vsray_pugixml_includes}")
  endif()
else()
  add_library(vsray_pugixml INTERFACE)
  target_link_libraries(vsray_pugixml INTERFACE pugixml::pugixml)
endif()

# libssh: Debian's libssh.a is position independent. It needs GSSAPI (libgssapi_krb5) and
# zlib, which Debian's libcurl loads anyway, and OpenSSL's libcrypto. Without libkrb5-dev
# there is no libgssapi_krb5.so link name: the run-time library is named by its soname.
# Without libssh.a, the shared libssh (pkg-config).
find_package(OpenSSL REQUIRED)
find_library(VSRAY_LIBSSH_STATIC NAMES libssh.a)
if(VSRAY_LIBSSH_STATIC)
  find_package(ZLIB REQUIRED)
  find_library(VSRAY_GSSAPI_KRB5 NAMES gssapi_krb5 libgssapi_krb5.so.2 REQUIRED)
  add_library(vsray_libssh STATIC IMPORTED)
  set_target_properties(vsray_libssh PROPERTIES
    IMPORTED_LOCATION "${VSRAY_LIBSSH_STATIC}"
    INTERFACE_LINK_LIBRARIES "${VSRAY_GSSAPI_KRB5};ZLIB::ZLIB;OpenSSL::Crypto;Threads::Threads")
else()
  pkg_check_modules(LIBSSH REQUIRED IMPORTED_TARGET libssh)
  add_library(vsray_libssh INTERFACE)
  target_link_libraries(vsray_libssh INTERFACE PkgConfig::LIBSSH)
endif()
