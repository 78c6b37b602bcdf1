# tools_train_model_test runs the train_model and evaluate_model binaries:
# build them with the test.
if(TARGET tools_train_model_test AND TARGET train_model AND TARGET evaluate_model)
  add_dependencies(tools_train_model_test train_model evaluate_model)
endif()
