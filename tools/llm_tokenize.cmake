llm_tool(llm_tokenize LIBS llm_tokenizer)
