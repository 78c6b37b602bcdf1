# C++ BPE trainer vs the independent Python reference on a Shakespeare slice
# (identical merges.txt, plus pattern/vocab/cache). Skips (77) without the
# corpus or python3-regex.
add_test(NAME tokenizer_trainer_vs_python_reference
  COMMAND ${CMAKE_SOURCE_DIR}/tests/tokenizer/trainer_vs_reference.sh $<TARGET_FILE:train_tokenizer> 300 1000
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(tokenizer_trainer_vs_python_reference PROPERTIES
  ENVIRONMENT "LLM_SOURCE_DIR=${CMAKE_SOURCE_DIR};LLM_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS tokenizer)

# Same comparison on a generated multilingual text (partial-UTF-8 tokens).
add_test(NAME tokenizer_trainer_vs_python_reference_unicode
  COMMAND ${CMAKE_SOURCE_DIR}/tests/tokenizer/trainer_vs_reference.sh $<TARGET_FILE:train_tokenizer> 400 300 200000 unicode
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(tokenizer_trainer_vs_python_reference_unicode PROPERTIES
  ENVIRONMENT "LLM_SOURCE_DIR=${CMAKE_SOURCE_DIR};LLM_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS tokenizer)
