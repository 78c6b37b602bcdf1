# Tests for core/data (llm_data: corpus download/verify/split). tests/data is
# not one of the auto-globbed areas because llm_data is not part of llm_core.
if(TARGET llm_data)
  llm_add_test(data_corpus_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/corpus_test.cc
               LIBS llm_data LABELS data)
endif()
