# Shared helpers for the hub's own targets.

# Sanitizer and fuzzing trees (docs/testing.md). The flags go to every target of
# the tree: the hub's modules and programs, the SDK's parts, the reference and
# test plugins, so a plugin and the process that loads it are instrumented alike.
#   address,undefined  ASan + UBSan with gcc: the whole test suite (build-asan)
#   thread             TSan with gcc: the tests labelled tsan (build-tsan)
#   fuzzer             libFuzzer targets of tests/fuzz with clang (build-fuzz): the
#                      libraries with fuzzer-no-link,address,undefined
# Compiled at -O1 with line tables only: a cold tree must build in minutes, and
# reports still name file and line.
set(HUB_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined | thread | fuzzer (clang)")
set(HUB_TIMEOUT_SCALE 1)
if(HUB_SANITIZE)
  if(HUB_SANITIZE STREQUAL "fuzzer")
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      message(FATAL_ERROR "HUB_SANITIZE=fuzzer needs clang (libFuzzer): CC=clang-14 CXX=clang++-14")
    endif()
    # The ignorelist is read at compile time; its hash on the command line makes
    # ccache (which does not read the file) recompile when it changes.
    set(hub_ignorelist ${PROJECT_SOURCE_DIR}/tests/sanitizers/ubsan-ignorelist.txt)
    file(MD5 ${hub_ignorelist} hub_ignorelist_md5)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${hub_ignorelist})
    set(hub_sanitize_compile -fsanitize=fuzzer-no-link,address,undefined
      -fsanitize-ignorelist=${hub_ignorelist} -DHUB_UBSAN_IGNORELIST=${hub_ignorelist_md5})
    set(hub_sanitize_link -fsanitize=address,undefined)
    set(HUB_BUILD_FUZZ ON)
  elseif(HUB_SANITIZE STREQUAL "address,undefined" OR HUB_SANITIZE STREQUAL "thread")
    set(hub_sanitize_compile -fsanitize=${HUB_SANITIZE})
    set(hub_sanitize_link -fsanitize=${HUB_SANITIZE})
    if(HUB_SANITIZE STREQUAL "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      # g++ warns at every atomic_thread_fence (asio's fenced blocks) that TSan
      # does not model fences; asio's hand-offs also go through a mutex, which it does.
      list(APPEND hub_sanitize_compile -Wno-tsan)
    endif()
  else()
    message(FATAL_ERROR "HUB_SANITIZE: '${HUB_SANITIZE}' is not address,undefined, thread or fuzzer")
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    set(hub_debug_level -gline-tables-only)
  else()
    set(hub_debug_level -g1)
  endif()
  # UBSan's findings fail the test instead of scrolling past; frame pointers
  # give whole stacks cheaply.
  add_compile_options(${hub_sanitize_compile} -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 ${hub_debug_level})
  add_link_options(${hub_sanitize_link} -fno-sanitize-recover=all)
  # tcmalloc replaces malloc, which the sanitizers must own.
  set(HUB_TCMALLOC OFF)
  # Instrumented code runs 2-10 times slower; ctest's limits follow (the tests'
  # own deadlines are for events that take milliseconds and stay as they are).
  if(HUB_SANITIZE STREQUAL "thread")
    set(HUB_TIMEOUT_SCALE 4)
  else()
    set(HUB_TIMEOUT_SCALE 3)
  endif()
  message(STATUS "HUB_SANITIZE=${HUB_SANITIZE}: ${hub_sanitize_compile}, tcmalloc off, test timeouts x${HUB_TIMEOUT_SCALE}")
endif()

# hub_scaled_timeout(<var> <seconds>): a ctest TIMEOUT for this tree (longer in sanitizer trees).
function(hub_scaled_timeout var seconds)
  math(EXPR scaled "${seconds} * ${HUB_TIMEOUT_SCALE}")
  set(${var} ${scaled} PARENT_SCOPE)
endfunction()

# Warnings on and clean for everything we write.
function(hub_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
    -Wformat=2 -Wno-missing-field-initializers -Werror=return-type)
  # In a unity build g++ sees each source as included by the batch's file, and
  # warns for every test fixture in an anonymous namespace as if it stood in a
  # header; a file's own anonymous namespace is no header's.
  if(CMAKE_UNITY_BUILD AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
  endif()
endfunction()

include(HubLayering)

# Leaving modules out (HUB_SKIP_MODULES): what a left-out folder would have
# defined, and what was skipped for needing it, is listed in the global property
# HUB_SKIPPED; whatever needs one of those is skipped too, and configure says why.

# hub_skip_folder(<folder>): the top-level loop leaves <folder> out; its module
# hub::<last part of folder> is missing from now on.
function(hub_skip_folder folder)
  get_filename_component(module ${folder} NAME)
  set_property(GLOBAL APPEND PROPERTY HUB_SKIPPED hub::${module})
  set_property(GLOBAL APPEND PROPERTY HUB_SKIPPED_FOLDERS ${folder})
  message(STATUS "${folder}: left out (HUB_SKIP_MODULES)")
endfunction()

# _hub_missing(<out> <items>...): the items that name something skipped.
function(_hub_missing out)
  get_property(skipped GLOBAL PROPERTY HUB_SKIPPED)
  set(missing "")
  foreach(item IN LISTS ARGN)
    if(item IN_LIST skipped)
      list(APPEND missing ${item})
    endif()
  endforeach()
  set(${out} ${missing} PARENT_SCOPE)
endfunction()

# hub_requires(<target>...): the rest of the calling CMakeLists.txt is left out
# (with a configure message) when one of the targets is not in this tree. For
# folders whose programs need a module or a program that may be skipped.
macro(hub_requires)
  set(_hub_requires_missing "")
  foreach(_hub_requires_target ${ARGN})
    if(NOT TARGET ${_hub_requires_target})
      list(APPEND _hub_requires_missing ${_hub_requires_target})
    endif()
  endforeach()
  if(_hub_requires_missing)
    file(RELATIVE_PATH _hub_requires_folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
    message(STATUS "${_hub_requires_folder}: skipped, it needs ${_hub_requires_missing}, which this tree does not build")
    set_property(GLOBAL APPEND PROPERTY HUB_SKIPPED_FOLDERS ${_hub_requires_folder})
    return()
  endif()
endmacro()

# hub_module(<name> SOURCES ... DEPS ... PRIVATE_DEPS ...) declares library hub_<name>
# with alias hub::<name>, public headers under include/. DEPS are linked PUBLIC
# (what the public headers use), PRIVATE_DEPS PRIVATE; the module may use only
# what it declares, of the layers below its own (cmake/HubLayering.cmake). When
# a dependency is left out of this tree, the rest of the calling CMakeLists.txt
# (the module and its tests) is skipped, and configure says why.
macro(hub_module name)
  _hub_missing(_hub_module_missing ${ARGN})
  if(_hub_module_missing)
    set_property(GLOBAL APPEND PROPERTY HUB_SKIPPED hub::${name})
    file(RELATIVE_PATH _hub_module_folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
    message(STATUS "${_hub_module_folder}: skipped, it needs ${_hub_module_missing}, which this tree does not build")
    set_property(GLOBAL APPEND PROPERTY HUB_SKIPPED_FOLDERS ${_hub_module_folder})
    return()
  endif()
  _hub_add_module(${name} ${ARGN})
endmacro()

function(_hub_add_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(hub_${name} STATIC ${M_SOURCES})
  add_library(hub::${name} ALIAS hub_${name})
  target_include_directories(hub_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(hub_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  hub_warnings(hub_${name})
endfunction()

# hub_test(<name> SOURCES ... DEPS ... [LABELS ...]) declares a GoogleTest executable
# registered with ctest; the tests see HUB_TEST_SOURCE_DIR and HUB_TEST_BUILD_DIR.
# Each label L also gets a target tests-L that builds every test executable
# labelled L. Label tsan marks the concurrency-heavy tests (HTTP server and
# client, loops, plugin host and its pools, process plugins, relay): the TSan
# tree builds only tests-tsan and runs only ctest -L tsan.
#
# COST <n> starts the executable's tests early in a parallel run (ctest runs
# the costliest first): for executables with tests of tens of seconds, which
# would otherwise start last in a clean clone (no timings recorded yet) and
# leave the run waiting for them alone at the end.
#
# BOTH_BACKENDS registers the executable's tests a second time, named "pg:<test>"
# and labelled postgresql, with HUB_TEST_POSTGRES naming the suite's PostgreSQL
# (the postgres_suite fixture, tests/support): tests that take their store from
# hub/test/StoreBackend.h then run on PostgreSQL.
function(hub_test name)
  cmake_parse_arguments(T "BOTH_BACKENDS" "TIMEOUT;COST" "SOURCES;DEPS;LABELS;FIXTURES" ${ARGN})
  if(NOT HUB_BUILD_TESTS)
    return()
  endif()
  _hub_missing(missing ${T_DEPS})
  if(missing)
    message(STATUS "${name}: skipped, it needs ${missing}, which this tree does not build")
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  set_property(TARGET ${name} PROPERTY HUB_TEST TRUE)  # the layering lets tests use test support
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main Threads::Threads)
  hub_warnings(${name})
  # Test code is compiled without optimisation and with line tables only: it is
  # half of every tree's compile time and runs for seconds, and the code under
  # test keeps its tree's flags. Measured on ApplicationSubmitTest.cpp (user CPU):
  # plain -O2 -g 11.7 s -> 4.8 s, ASan+UBSan -O1 -g1 13.6 s -> 7.2 s.
  target_compile_options(${name} PRIVATE -O0 -g1)
  include(GoogleTest)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  hub_scaled_timeout(T_TIMEOUT ${T_TIMEOUT})
  foreach(label IN LISTS T_LABELS)
    if(NOT TARGET tests-${label})
      add_custom_target(tests-${label})
      set_property(GLOBAL APPEND PROPERTY HUB_TEST_LABELS tests-${label})
    endif()
    add_dependencies(tests-${label} ${name})
  endforeach()
  # Where the tests find the tree: compile definitions, since gtest_discover_tests
  # cannot pass more than one ENVIRONMENT entry.
  target_compile_definitions(${name} PRIVATE
    HUB_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}" HUB_TEST_BUILD_DIR="${CMAKE_BINARY_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_LIST ${name}_tests
    PROPERTIES TIMEOUT ${T_TIMEOUT})
  if(T_BOTH_BACKENDS)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_LIST ${name}_pg_tests TEST_PREFIX "pg:"
      PROPERTIES TIMEOUT ${T_TIMEOUT} ENVIRONMENT "HUB_TEST_POSTGRES=${HUB_TEST_POSTGRES_DIR}"
                 FIXTURES_REQUIRED postgres_suite)
  endif()
  # Labels after discovery: through PROPERTIES a list arrives as one label
  # ("ldap identity"). Skipped for an executable this tree did not build.
  if(NOT T_COST)
    set(T_COST 0)
  endif()
  if(T_LABELS OR T_BOTH_BACKENDS OR T_COST)
    set(cost "${T_COST}")
    set(labels "${T_LABELS}")
    set(pg_labels "${T_LABELS};postgresql")
    string(CONFIGURE [[
if(@name@_tests AND NOT "@labels@" STREQUAL "")
  set_tests_properties(${@name@_tests} PROPERTIES LABELS "@labels@")
endif()
if(@name@_pg_tests)
  set_tests_properties(${@name@_pg_tests} PROPERTIES LABELS "@pg_labels@")
endif()
if(NOT "@cost@" STREQUAL "0" AND (@name@_tests OR @name@_pg_tests))
  set_tests_properties(${@name@_tests} ${@name@_pg_tests} PROPERTIES COST @cost@)
endif()
]] script @ONLY)
    file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake "${script}")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
  endif()
endfunction()
