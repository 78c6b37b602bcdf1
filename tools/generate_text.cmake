llm_tool(generate_text LIBS llm_core)
