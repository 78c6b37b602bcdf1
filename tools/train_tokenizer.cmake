llm_tool(train_tokenizer LIBS llm_tokenizer)
