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
llm_add_test(server_security_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/security_test.cc
  LIBS llm_server_test_util llm_server_lib llm_client_lib LABELS server)

# Soak test (~60 s): the real llm_server under mixed load with faults at
# concurrency 64, client processes killed mid-stream (tests/server/soak_driver.cc).
# Label `soak` only: `ctest -L server` stays quick; `ctest -L soak` runs it.
add_executable(server_soak ${CMAKE_CURRENT_SOURCE_DIR}/server/soak_driver.cc)
target_link_libraries(server_soak PRIVATE llm_server_test_util llm_client_lib llm_util)
if(TARGET llm_server AND TARGET llm_client)
  add_test(NAME server_soak
    COMMAND server_soak --server $<TARGET_FILE:llm_server> --client $<TARGET_FILE:llm_client>
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(server_soak PROPERTIES LABELS soak TIMEOUT 300)
  add_dependencies(server_soak llm_server llm_client)
endif()
llm_add_test(server_security_binary_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/security_binary_test.cc
  LIBS llm_server_test_util llm_server_lib llm_client_lib LABELS server)
if(TARGET llm_server)
  add_dependencies(server_security_binary_test llm_server)
endif()

# Scheduler / Generation / ThreadPool under many threads, no gRPC transport.
# Also run under ThreadSanitizer by scripts/test_sanitizers.sh (stage tsan).
llm_add_test(server_scheduler_concurrency_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/scheduler_concurrency_test.cc
  LIBS llm_server_test_util llm_server_lib LABELS server)
llm_add_test(server_scheduler_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/scheduler_test.cc
  LIBS llm_server_test_util llm_server_lib LABELS server)
