# Tokenizer::Encode vs an independent Python implementation of the original's
# load + encode semantics, on 300 KB of Shakespeare plus seeded random Unicode,
# with a 10k-merge tokenizer saved in the original's directory format.
# Skips (77) without cl100k_base.tiktoken.
add_executable(bpe_encode_dump ${CMAKE_CURRENT_LIST_DIR}/bpe_encode_dump.cc)
target_link_libraries(bpe_encode_dump PRIVATE llm_tokenizer llm_util)
add_test(NAME tokenizer_bpe_vs_python_reference
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/tokenizer/bpe_reference.py
          $<TARGET_FILE:bpe_encode_dump>
          ${CMAKE_SOURCE_DIR}/../shared/data/tiktoken/cl100k_base.tiktoken
          ${CMAKE_BINARY_DIR}/tests/bpe_reference
          ${CMAKE_SOURCE_DIR}/../shared/data/shakespeare.txt
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(tokenizer_bpe_vs_python_reference PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 180 LABELS tokenizer)
