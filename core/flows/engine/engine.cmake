# The BPMN engine (core/flows/engine): part of the flows module, in a folder of
# its own. Included by core/flows/CMakeLists.txt after hub_module(flows).
set(HUB_ENGINE_DIR ${CMAKE_CURRENT_LIST_DIR})
target_sources(hub_flows PRIVATE
  ${HUB_ENGINE_DIR}/src/Value.cpp
  ${HUB_ENGINE_DIR}/src/Feel.cpp)
target_include_directories(hub_flows PUBLIC ${HUB_ENGINE_DIR}/include)

hub_test(flows_engine_test
  SOURCES
    ${HUB_ENGINE_DIR}/tests/FeelTest.cpp
  DEPS hub::flows
  LABELS flows)
