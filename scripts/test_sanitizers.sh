#!/usr/bin/env bash
# Sanitizer and fuzzing stages of the CI test command (scripts/test.sh calls
# this at the end unless LLM_CI_SANITIZERS=0). Each stage has its own build
# directory, reused across runs:
#   asan  build-asan  gcc, -fsanitize=address,undefined, -O1: the WHOLE ctest
#                     suite (unit, integration, tool and fuzz-replay tests)
#   tsan  build-tsan  gcc, -fsanitize=thread, -O1: the tests of our own
#                     concurrent code (LRU cache + EncodeBatch, chunked
#                     encode, thread pool + batched decode, and the server's
#                     Scheduler / Generation / ThreadPool under many threads
#                     without the gRPC transport, which Debian ships
#                     uninstrumented)
#   fuzz  build-fuzz  clang, libFuzzer + ASan + UBSan: every tests/fuzz
#                     target runs LLM_FUZZ_SECONDS (default 30) seconds from
#                     its checked-in seed corpus; any crash fails the stage
#                     and its input is kept in build-fuzz/crashes/TARGET/
# Environment: LLM_SANITIZER_STAGES (default "asan tsan fuzz"),
# LLM_FUZZ_SECONDS, JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

STAGES="${LLM_SANITIZER_STAGES:-asan tsan fuzz}"
FUZZ_SECONDS="${LLM_FUZZ_SECONDS:-30}"
JOBS="${JOBS:-$(nproc)}"
SUPP="$PWD/tests/sanitizers"
# -O1 -g1: good stack traces, much faster to compile than -O3, asserts kept.
COMMON=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1"
        -DLLM_WERROR=OFF)   # the Release build already enforces -Werror

stage() { echo; echo "=== sanitizers: $* ($(date +%T)) ==="; }

for s in $STAGES; do
  case "$s" in
  asan)
    stage "ASan + UBSan build and full ctest"
    # Skipped under ASan (they run in the Release build): wall-clock speed
    # assertions (ASan is 2-5x slower) and the Docker check that the runtime
    # image's packages cover `ldd` of the binaries (ASan binaries need libasan).
    ASAN_SKIP='PathologicalMegabyteInputsAreFast|IsFastAt1MiB|deploy_compose_structure'
    cmake -S . -B build-asan "${COMMON[@]}" -DLLM_SANITIZE=address,undefined
    cmake --build build-asan -j "$JOBS"
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1" \
    LSAN_OPTIONS="suppressions=$SUPP/lsan.supp" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
      ctest --test-dir build-asan --output-on-failure -j "$JOBS" --timeout 1800 -E "$ASAN_SKIP"
    ;;
  tsan)
    stage "TSan build and concurrency tests"
    TSAN_TESTS=(tokenizer_encode_test tokenizer_chunked_encode_test model_inference_test
                server_scheduler_concurrency_test server_scheduler_test)
    # Wall-clock performance assertions are meaningless at TSan's 5-15x slowdown.
    TSAN_SKIP="-*PathologicalMegabyteInputsAreFast*"
    cmake -S . -B build-tsan "${COMMON[@]}" -DLLM_SANITIZE=thread
    cmake --build build-tsan -j "$JOBS" --target "${TSAN_TESTS[@]}"
    # Run the binaries directly (ctest names are per TEST case).
    for t in "${TSAN_TESTS[@]}"; do
      echo "--- $t"
      OPENBLAS_NUM_THREADS=1 \
      TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$SUPP/tsan.supp" \
        "build-tsan/tests/$t" --gtest_brief=1 --gtest_filter="$TSAN_SKIP"
    done
    ;;
  fuzz)
    stage "libFuzzer targets, ${FUZZ_SECONDS}s each"
    cmake -S . -B build-fuzz "${COMMON[@]}" -DLLM_FUZZ=ON \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
    cmake --build build-fuzz -j "$JOBS" --target fuzz_all
    for t in fuzz_encode fuzz_special_tokens fuzz_tokenizer_files fuzz_checkpoint fuzz_token_file fuzz_request; do
      work="build-fuzz/corpus/$t"; crashes="build-fuzz/crashes/$t"
      mkdir -p "$work" "$crashes"
      regressions=""
      if [ -d "tests/fuzz/regressions/$t" ]; then regressions="tests/fuzz/regressions/$t"; fi
      echo "--- $t"
      # New inputs go to the build tree's working corpus; the checked-in
      # seeds are read only. -rss_limit_mb/-malloc_limit_mb catch inputs
      # that make a loader allocate unboundedly.
      if ! UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
          "build-fuzz/tests/fuzz/$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
          -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
          -artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$t" $regressions \
          2>"build-fuzz/$t.log"; then
        tail -60 "build-fuzz/$t.log"
        echo "FUZZ FAILURE in $t: reproduce with build-fuzz/tests/fuzz/$t $crashes/<file>" >&2
        exit 1
      fi
      grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb" "build-fuzz/$t.log" | tr '\n' ' '; echo
    done
    ;;
  *) echo "unknown sanitizer stage '$s'" >&2; exit 2 ;;
  esac
done
echo "=== sanitizers: all stages passed ($(date +%T)) ==="
