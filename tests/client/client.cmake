# llm_client end-to-end tests: run the llm_client and llm_server binaries
# (piped stdin and a tmux terminal) with assets written by the test.
llm_add_test(client_llm_client_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/client/llm_client_test.cc
  LIBS llm_client_extra llm_client_lib llm_tokenizer llm_model llm_util LABELS client)
foreach(_dep llm_client llm_server)
  if(TARGET ${_dep})
    add_dependencies(client_llm_client_test ${_dep})
  endif()
endforeach()
