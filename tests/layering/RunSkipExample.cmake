# Configures the project with the README's -DHUB_SKIP_MODULES example in <WORK>
# and runs its layering step; checks what configure says it left out.
#   cmake -DHUB_ROOT=<project> -DWORK=<dir> -DGENERATOR=<generator> -P RunSkipExample.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${HUB_ROOT} -B ${WORK} -G ${GENERATOR}
    "-DHUB_SKIP_MODULES=connectors/ldap;core/identity"
  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the README's HUB_SKIP_MODULES example does not configure:\n${output}")
endif()
foreach(said
    "connectors/ldap: left out \\(HUB_SKIP_MODULES\\)"
    "core/identity: left out \\(HUB_SKIP_MODULES\\)"
    "core/api: skipped, it needs hub::identity, which this tree does not build"
    "core/app: skipped, it needs hub::api, which this tree does not build")
  if(NOT output MATCHES "${said}")
    message(FATAL_ERROR "configure does not say '${said}':\n${output}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK} --target layering
  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the layering step of the example tree failed:\n${output}")
endif()
file(REMOVE_RECURSE ${WORK})
