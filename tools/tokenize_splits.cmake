llm_tool(tokenize_splits LIBS llm_tokenizer)
