# Differential test: our PreTokenizer vs Python's `regex` module on a seeded
# random Unicode corpus plus part of the Shakespeare text (if present), for
# every known pattern spelling. Fails (does not skip) without python3-regex.
add_executable(pretokenizer_split_dump ${CMAKE_CURRENT_LIST_DIR}/pretokenizer_split_dump.cc)
target_link_libraries(pretokenizer_split_dump PRIVATE llm_tokenizer llm_util)
add_test(NAME tokenizer_pretokenizer_vs_python_regex
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/tokenizer/split_reference.py check
          --tool $<TARGET_FILE:pretokenizer_split_dump> --seed 20240601
          --workdir ${CMAKE_BINARY_DIR}/tests/pretokenizer_diff
          --shakespeare ${CMAKE_SOURCE_DIR}/../shared/data/shakespeare.txt
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(tokenizer_pretokenizer_vs_python_regex PROPERTIES
  TIMEOUT 180 LABELS tokenizer)
