# campushub_add_plugin(<target> MANIFEST <plugin.xml> SOURCES <src>... [OUTPUT_DIRECTORY <dir>])
#
# Declares a plugin: a MODULE library that exports only the entry point
# (everything else hidden), built against CampusHub::SDK, with its manifest
# copied beside it. The folder <dir> (default: <build>/<target>) is what you
# drop into the hub's plugins folder.
function(campushub_add_plugin target)
  cmake_parse_arguments(P "" "MANIFEST;OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT P_MANIFEST)
    message(FATAL_ERROR "campushub_add_plugin(${target}): MANIFEST plugin.xml is required")
  endif()
  if(NOT P_OUTPUT_DIRECTORY)
    set(P_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/${target})
  endif()
  add_library(${target} MODULE ${P_SOURCES})
  target_link_libraries(${target} PRIVATE CampusHub::SDK)
  set_target_properties(${target} PROPERTIES
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIRECTORY}
    PREFIX "lib")
  # Resolve everything at link time: a missing symbol fails the vendor's build,
  # not the hub's dlopen.
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  get_filename_component(manifest ${P_MANIFEST} ABSOLUTE)
  # The manifest is copied whenever it changes, not only when the library links:
  # an edited policy must reach the folder the hub loads.
  add_custom_command(OUTPUT ${P_OUTPUT_DIRECTORY}/plugin.xml
    COMMAND ${CMAKE_COMMAND} -E copy_if_different ${manifest} ${P_OUTPUT_DIRECTORY}/plugin.xml
    DEPENDS ${manifest}
    VERBATIM)
  target_sources(${target} PRIVATE ${P_OUTPUT_DIRECTORY}/plugin.xml)
endfunction()
