# Included by tests/CMakeLists.txt in EVERY build: fuzz_replay_test runs each
# fuzz target body once on every checked-in seed (tests/fuzz/corpus/TARGET/)
# and crash regression (tests/fuzz/regressions/TARGET/), with the build's own
# compiler and sanitizers. The libFuzzer executables themselves are built only
# with -DLLM_FUZZ=ON (tests/fuzz/CMakeLists.txt).
set(LLM_FUZZ_BODIES
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_encode.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_special_tokens.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_tokenizer_files.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_checkpoint.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_token_file.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_request.cc)
llm_add_test(fuzz_replay_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay_test.cc ${LLM_FUZZ_BODIES}
  LIBS llm_tokenizer llm_model llm_server_test_util LABELS fuzz)
