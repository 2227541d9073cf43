# The BPMN engine (core/flows/engine): part of the flows module, in a folder of
# its own. Included by core/flows/CMakeLists.txt after hub_module(flows).
set(HUB_ENGINE_DIR ${CMAKE_CURRENT_LIST_DIR})
target_sources(hub_flows PRIVATE
  ${HUB_ENGINE_DIR}/src/Value.cpp
  ${HUB_ENGINE_DIR}/src/Feel.cpp
  ${HUB_ENGINE_DIR}/src/Timers.cpp
  ${HUB_ENGINE_DIR}/src/Deployer.cpp
  ${HUB_ENGINE_DIR}/src/Model.cpp
  ${HUB_ENGINE_DIR}/src/Validation.cpp
  ${HUB_ENGINE_DIR}/src/Engine.cpp
  ${HUB_ENGINE_DIR}/src/EngineNames.cpp
  ${HUB_ENGINE_DIR}/src/TaskForm.cpp
  ${HUB_ENGINE_DIR}/src/EngineStore.cpp
  ${HUB_ENGINE_DIR}/src/FlowRepository.cpp)
target_include_directories(hub_flows PUBLIC ${HUB_ENGINE_DIR}/include)
target_link_libraries(hub_flows PRIVATE hub::xml)

hub_test(flows_engine_test BOTH_BACKENDS
  SOURCES
    ${HUB_ENGINE_DIR}/tests/FeelTest.cpp
    ${HUB_ENGINE_DIR}/tests/DeployTest.cpp
    ${HUB_ENGINE_DIR}/tests/EngineTest.cpp
    ${HUB_ENGINE_DIR}/tests/EngineStoreTest.cpp
    ${HUB_ENGINE_DIR}/tests/FlowRepositoryTest.cpp
    ${HUB_ENGINE_DIR}/tests/OutsideInputsTest.cpp
    ${CMAKE_CURRENT_LIST_DIR}/../tests/FlowsTestSupport.cpp
  DEPS hub::flows hub::testsupport hub::storetest
  LABELS flows)
