# Interoperability: an independent client (Python grpcio from Debian, stubs
# generated from proto/ at test time) against the real llm_server binary.
add_executable(interop_make_assets ${CMAKE_CURRENT_SOURCE_DIR}/interop/make_assets.cc)
target_link_libraries(interop_make_assets PRIVATE llm_server_test_util)
add_test(NAME interop_python_grpc
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/interop/interop_test.py
          --server $<TARGET_FILE:llm_server>
          --make_assets $<TARGET_FILE:interop_make_assets>
          --proto_dir ${CMAKE_SOURCE_DIR}/proto
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(interop_python_grpc PROPERTIES LABELS "interop" TIMEOUT 300
  ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
