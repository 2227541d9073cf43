# Scans the files of every module for includes the layering does not allow
# (cmake/HubLayering.cmake). The build runs it as the `layering` step:
#   cmake -DHUB_LAYERING_MANIFEST=<build>/layering/manifest.cmake -P cmake/CheckLayering.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT HUB_LAYERING_MANIFEST)
  message(FATAL_ERROR "usage: cmake -DHUB_LAYERING_MANIFEST=<build>/layering/manifest.cmake -P CheckLayering.cmake")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/HubLayering.cmake)
hub_layering_scan(${HUB_LAYERING_MANIFEST})
