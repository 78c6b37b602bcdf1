# The tool test runs the train_tokenizer binary: build it with the test.
if(TARGET tools_train_tokenizer_test AND TARGET train_tokenizer)
  add_dependencies(tools_train_tokenizer_test train_tokenizer)
endif()
