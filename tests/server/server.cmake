# Server tests: unit tests of the streaming text logic and integration tests
# that run a real server (in-process, and the llm_server binary) and talk to it
# through the client library.
add_library(llm_server_test_util STATIC ${CMAKE_CURRENT_SOURCE_DIR}/server/test_util.cc)
target_link_libraries(llm_server_test_util PUBLIC llm_server_lib)

llm_add_test(server_text_stream_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/text_stream_test.cc
  LIBS llm_server_lib LABELS server)
llm_add_test(server_integration_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/integration_test.cc
  LIBS llm_server_test_util llm_server_lib llm_client_lib LABELS server)
llm_add_test(server_binary_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/binary_test.cc
  LIBS llm_server_test_util llm_server_lib llm_client_lib LABELS server)
if(TARGET llm_server)
  add_dependencies(server_binary_test llm_server)
endif()
