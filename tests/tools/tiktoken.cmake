# Exactness against OpenAI's tiktoken (npm tiktoken@1.0.22, pinned in
# tests/tiktoken_ref/package-lock.json). The fixture installs the reference
# packages from the lockfile when node_modules is missing (needs the npm
# registry); the test skips (exit 77) if node, npm packages or OpenAI's rank
# files (../shared/data/tiktoken) are unavailable.
find_program(LLM_NPM npm)
if(LLM_NPM)
  add_test(NAME tiktoken_ref_npm_ci
    COMMAND sh -c "test -d node_modules/tiktoken || ${LLM_NPM} ci --no-audit --no-fund"
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/tiktoken_ref)
  set_tests_properties(tiktoken_ref_npm_ci PROPERTIES FIXTURES_SETUP tiktoken_npm
    LABELS tools TIMEOUT 300)
endif()
add_test(NAME tools_tiktoken_vs_npm
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/tools/tiktoken_vs_npm.py
          ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(tools_tiktoken_vs_npm PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS tools FIXTURES_REQUIRED tiktoken_npm)
