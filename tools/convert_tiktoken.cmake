if(NOT TARGET llm_data)
  add_subdirectory(${CMAKE_SOURCE_DIR}/core/data ${CMAKE_BINARY_DIR}/core/data)
endif()
llm_tool(convert_tiktoken LIBS llm_tokenizer llm_data)
