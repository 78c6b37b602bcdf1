llm_tool(evaluate_model LIBS llm_core)
