# Shared helpers for the hub's own targets.

# Warnings on and clean for everything we write.
function(hub_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
    -Wformat=2 -Wno-missing-field-initializers -Werror=return-type)
endfunction()

# hub_module(<name> SOURCES ... DEPS ...) declares library hub_<name> with alias hub::<name>,
# public headers under include/.
function(hub_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(hub_${name} STATIC ${M_SOURCES})
  add_library(hub::${name} ALIAS hub_${name})
  target_include_directories(hub_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(hub_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  hub_warnings(hub_${name})
endfunction()

# hub_test(<name> SOURCES ... DEPS ... [LABELS ...]) declares a GoogleTest executable
# registered with ctest; the tests see HUB_TEST_SOURCE_DIR and HUB_TEST_BUILD_DIR.
function(hub_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;DEPS;LABELS;FIXTURES" ${ARGN})
  if(NOT HUB_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main Threads::Threads)
  hub_warnings(${name})
  include(GoogleTest)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # Where the tests find the tree: compile definitions, since gtest_discover_tests
  # cannot pass more than one ENVIRONMENT entry.
  target_compile_definitions(${name} PRIVATE
    HUB_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}" HUB_TEST_BUILD_DIR="${CMAKE_BINARY_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
endfunction()
