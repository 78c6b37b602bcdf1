# core/data is normally added by core/CMakeLists.txt; add it here if not.
if(NOT TARGET llm_data)
  add_subdirectory(${CMAKE_SOURCE_DIR}/core/data ${CMAKE_BINARY_DIR}/core/data)
endif()
llm_tool(download_data LIBS llm_data)
