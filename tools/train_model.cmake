llm_tool(train_model LIBS llm_core)
