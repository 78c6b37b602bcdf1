#!/usr/bin/env bash
# Installs dependencies, builds (Release, warnings as errors) and runs the
# whole test suite. This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh

BUILD_DIR="${BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLM_WERROR=ON
cmake --build "$BUILD_DIR" -j "$(nproc)"
# Test data (the corpus) comes from the download tool or ../shared; never from the repo.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 900

# Sanitizers (ASan+UBSan whole suite, TSan concurrency tests) and bounded
# fuzzing; separate build dirs. Skip with LLM_CI_SANITIZERS=0.
if [ "${LLM_CI_SANITIZERS:-1}" != "0" ]; then
  bash scripts/test_sanitizers.sh
fi
