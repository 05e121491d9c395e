# Shared build logic for lstar's HDF5 filter plugins (included by filters/<name>/CMakeLists.txt).
#
#   lstar_add_h5z_plugin(<name> SOURCES <c files...> [HEADERS <public headers...>])
#
# builds the dynamically loadable HDF5 filter plugin liblstar_h5z_<name>.so:
#   * into ${PROJECT_BINARY_DIR}/filters/plugins (the directory to put in HDF5_PLUGIN_PATH when
#     running from the build tree; the interop tests do exactly that);
#   * installed into ${CMAKE_INSTALL_LIBDIR}/lstar/hdf5-plugins (LSTAR_H5Z_PLUGIN_INSTALL_DIR),
#     not next to the library;
#   * linked against the static lstar library (its codecs do the work) with every static-library
#     symbol kept private (-Wl,--exclude-libs,ALL) and compiled with hidden visibility, so that the
#     only exported symbols are H5PLget_plugin_type and H5PLget_plugin_info and two plugins (or a
#     plugin and liblstar.so) loaded into one process never clash.
include_guard(GLOBAL)

set(LSTAR_H5Z_PLUGIN_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/lstar/hdf5-plugins" CACHE STRING
    "Where cmake --install puts the HDF5 filter plugins (relative to the install prefix)")
find_package(PkgConfig REQUIRED)
# Debian names the serial library "hdf5-serial" and also provides "hdf5"; prefer the explicit one.
if(NOT TARGET PkgConfig::LSTAR_H5Z_HDF5)
  pkg_search_module(LSTAR_H5Z_HDF5 REQUIRED IMPORTED_TARGET GLOBAL hdf5-serial hdf5)
endif()

function(lstar_add_h5z_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;HEADERS" ${ARGN})
  set(target lstar_h5z_${name})
  # The plugin-side helpers (error stack, buffers, chunk geometry) are compiled into each plugin,
  # so that each carries its own private copy.
  set(common_dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  add_library(${target} MODULE ${P_SOURCES} ${common_dir}/lstar_h5z.c)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME lstar_h5z_${name}
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/filters/plugins
    C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)
  # lstar-core/src: the codecs' internal fast paths (codec/codec_internal.h: zstd decoding with reused
  # contexts, delta in place), which the plugins use to decode straight into HDF5's buffers.
  target_include_directories(${target} PRIVATE ${common_dir} ${CMAKE_CURRENT_SOURCE_DIR}
                             ${PROJECT_SOURCE_DIR}/lstar-core/src)
  # Debian's HDF5 maps the unnumbered API names to the 1.8 API by default; we call numbered names
  # only, and ask for the 1.10 mapping so that any slip is a compile error rather than a surprise.
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L H5_USE_110_API)
  target_link_libraries(${target} PRIVATE lstar_static PkgConfig::LSTAR_H5Z_HDF5)
  target_link_options(${target} PRIVATE "LINKER:--exclude-libs,ALL" "LINKER:--no-undefined")
  lstar_set_warnings(${target})
  install(TARGETS ${target} LIBRARY DESTINATION ${LSTAR_H5Z_PLUGIN_INSTALL_DIR})
  if(P_HEADERS)
    install(FILES ${P_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lstar/filters)
  endif()
endfunction()

# lstar_add_h5z_selftest(<name> SOURCES <plugin sources...> TEST <test .c>)
# An executable made of the plugin's sources and an in-process test (filters/<name>/test/), run by
# CTest as filters_<name>_selftest (label "unit", so it also runs in the sanitizer build).
function(lstar_add_h5z_selftest name)
  if(NOT LSTAR_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(P "" "TEST" "SOURCES" ${ARGN})
  set(common_dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  set(target lstar_h5z_${name}_selftest)
  add_executable(${target} ${P_TEST} ${P_SOURCES} ${common_dir}/lstar_h5z.c)
  target_include_directories(${target} PRIVATE ${common_dir} ${CMAKE_CURRENT_SOURCE_DIR}
                             ${PROJECT_SOURCE_DIR}/lstar-core/src)
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L H5_USE_110_API)
  target_link_libraries(${target} PRIVATE lstar_static PkgConfig::LSTAR_H5Z_HDF5)
  lstar_set_warnings(${target})
  # HDF5_PLUGIN_PATH points at an empty directory: the class under test is registered in-process.
  add_test(NAME filters_${name}_selftest COMMAND ${target})
  set_tests_properties(filters_${name}_selftest PROPERTIES LABELS unit
    ENVIRONMENT "HDF5_PLUGIN_PATH=${CMAKE_CURRENT_BINARY_DIR}/no-plugins")
endfunction()

# lstar_add_h5z_thread_selftest(<name> SOURCES <plugin sources...>)
# The concurrency self-test (filters/common/h5z_threads_selftest.c) built with one plugin's sources:
# many threads call the filter with different cd_values while HDF5 reads and writes through it, to
# check the codec cache and the zstd context pool.  CTest name filters_<name>_threads_selftest, label
# "unit" (so it also runs in the sanitizer build).
function(lstar_add_h5z_thread_selftest name)
  if(NOT LSTAR_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(P "" "" "SOURCES" ${ARGN})
  set(common_dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  set(target lstar_h5z_${name}_threads_selftest)
  add_executable(${target} ${common_dir}/h5z_threads_selftest.c ${P_SOURCES} ${common_dir}/lstar_h5z.c)
  target_include_directories(${target} PRIVATE ${common_dir} ${CMAKE_CURRENT_SOURCE_DIR} ${common_dir}/../zstd
                             ${common_dir}/../delta ${PROJECT_SOURCE_DIR}/lstar-core/src)
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L H5_USE_110_API)
  target_link_libraries(${target} PRIVATE lstar_static PkgConfig::LSTAR_H5Z_HDF5 Threads::Threads)
  lstar_set_warnings(${target})
  add_test(NAME filters_${name}_threads_selftest COMMAND ${target})
  set_tests_properties(filters_${name}_threads_selftest PROPERTIES LABELS unit
    ENVIRONMENT "HDF5_PLUGIN_PATH=${CMAKE_CURRENT_BINARY_DIR}/no-plugins")
endfunction()
