# One case of the layering check's tests: copies fixture/ to <WORK>/src, breaks
# the rule the case names (or none), configures it and checks that configure
# fails naming the broken rule (or passes).
#   cmake -DHUB_ROOT=<project> -DCASE=<case> -DWORK=<dir> -DGENERATOR=<generator> -P RunFixture.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK})
file(COPY ${CMAKE_CURRENT_LIST_DIR}/fixture/ DESTINATION ${WORK}/src)
set(src ${WORK}/src)
set(options "")
set(expect_failure TRUE)

# append(<file> <line>): adds an include to a fixture file.
function(append file line)
  file(APPEND ${src}/${file} "${line}\n")
endfunction()

if(CASE STREQUAL "clean")
  set(expect_failure FALSE)
elseif(CASE STREQUAL "upward_include")
  append(base/src/Base.cpp "#include \"hub/top/Top.h\"")
  set(expect "base/src/Base.cpp: #include \"hub/top/Top.h\": top is above base")
elseif(CASE STREQUAL "sibling_include")
  append(left/src/Left.cpp "#include \"hub/right/Right.h\"")
  set(expect "left/src/Left.cpp: #include \"hub/right/Right.h\": right is beside left")
elseif(CASE STREQUAL "undeclared_include")
  # Compiles (left links base PUBLIC), but top does not say it uses base.
  append(top/src/Top.cpp "#include \"hub/base/Base.h\"")
  set(expect "top/src/Top.cpp: #include \"hub/base/Base.h\": base is not declared by top")
elseif(CASE STREQUAL "private_in_public_header")
  append(right/include/hub/right/Right.h "#include \"hub/base/Base.h\"")
  set(expect "right/include/hub/right/Right.h: #include \"hub/base/Base.h\": base is linked PRIVATE by right")
elseif(CASE STREQUAL "upward_link")
  file(WRITE ${src}/base/CMakeLists.txt "hub_module(base SOURCES src/Base.cpp PRIVATE_DEPS hub::top)\n")
  set(expect "base: hub_base links hub::top \\(top\\), which is above it")
elseif(CASE STREQUAL "sibling_link")
  file(WRITE ${src}/right/CMakeLists.txt "hub_module(right SOURCES src/Right.cpp PRIVATE_DEPS hub::base hub::left)\n")
  set(expect "right: hub_right links hub::left \\(left\\), which is beside it")
elseif(CASE STREQUAL "include_after_configure")
  # The build step: an include added after the configure fails the next build.
  set(build_after "left/src/Left.cpp")
  set(expect "left/src/Left.cpp: #include \"hub/top/Top.h\": top is above left")
elseif(CASE STREQUAL "skip_module")
  set(expect_failure FALSE)
  set(options -DHUB_SKIP_MODULES=left)
  set(expect "top: skipped, it needs hub::left, which this tree does not build")
else()
  message(FATAL_ERROR "unknown case '${CASE}'")
endif()

execute_process(COMMAND ${CMAKE_COMMAND} -S ${src} -B ${WORK}/build -G ${GENERATOR} -DHUB_ROOT=${HUB_ROOT} ${options}
  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(build_after AND status EQUAL 0)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/build --target layering
    RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "the layering step of a clean tree failed:\n${output}")
  endif()
  append(${build_after} "#include \"hub/top/Top.h\"")
  # An edit in the same clock tick as the step's stamp (file times move in
  # kernel ticks) would look older than it to ninja: date the edit later.
  string(TIMESTAMP now "%s" UTC)
  math(EXPR later "${now} + 5")
  execute_process(COMMAND touch -d @${later} ${src}/${build_after} COMMAND_ERROR_IS_FATAL ANY)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/build --target layering
    RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
endif()

string(REPLACE "\n" " " flat "${output}")
string(REGEX REPLACE "[ \t]+" " " flat "${flat}")
if(expect_failure AND status EQUAL 0)
  message(FATAL_ERROR "case ${CASE}: expected a failure naming '${expect}', but it passed:\n${output}")
elseif(NOT expect_failure AND NOT status EQUAL 0)
  message(FATAL_ERROR "case ${CASE}: expected to pass, but it failed:\n${output}")
endif()
if(expect AND NOT flat MATCHES "${expect}")
  message(FATAL_ERROR "case ${CASE}: the output does not say '${expect}':\n${output}")
endif()
message(STATUS "case ${CASE}: as expected")
