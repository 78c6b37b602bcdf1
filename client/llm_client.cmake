# llm_client: the interactive demo client (client/main.cc). Its helpers live
# in llm_client_extra so tests can link them.
add_library(llm_client_extra llm_client_extra.cc)
target_link_libraries(llm_client_extra PUBLIC absl::status absl::strings)
add_executable(llm_client main.cc)
target_link_libraries(llm_client PRIVATE llm_client_extra llm_client_lib llm_tokenizer llm_util Threads::Threads)
