# tools_crash_safety_test SIGKILLs train_model, train_tokenizer and
# tokenize_splits: build them with the test.
if(TARGET tools_crash_safety_test)
  foreach(_tool train_model train_tokenizer tokenize_splits)
    if(TARGET ${_tool})
      add_dependencies(tools_crash_safety_test ${_tool})
    endif()
  endforeach()
endif()
