#!/usr/bin/env bash
# Starts llm_server on a free loopback port with the default assets and runs
# bench/load_gen against it. A benchmark command, not a test.
#
#   bench/run_load.sh [-b BUILD_DIR] [-t TOKENIZER] [-n MODEL] [-c ITER] [-- LOAD_GEN_ARGS...]
#
# Defaults: BUILD_DIR=build, TOKENIZER=default_10k, MODEL/ITER = the newest
# checkpoint under assets/model_checkpoints/ (any name). The server's stderr
# goes to $TMPDIR/run_load.server.log. Example:
#   bench/run_load.sh -- --duration 10 --complete_streams 1,4,16 --max_tokens 64
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=build
TOKENIZER=default_10k
MODEL=""
ITER=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -b) BUILD="$2"; shift 2 ;;
    -t) TOKENIZER="$2"; shift 2 ;;
    -n) MODEL="$2"; shift 2 ;;
    -c) ITER="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
  esac
done

ASSETS="${LLM_ASSETS_DIR:-assets}"
SERVER="$BUILD/server/llm_server"
LOADGEN="$BUILD/bench/load_gen"
for bin in "$SERVER" "$LOADGEN"; do
  if [[ ! -x "$bin" ]]; then
    echo "run_load.sh: $bin not found; build it: cmake --build $BUILD --target llm_server load_gen" >&2
    exit 1
  fi
done
if [[ ! -d "$ASSETS/bpe_checkpoints/$TOKENIZER" ]]; then
  echo "run_load.sh: tokenizer '$TOKENIZER' not found in $ASSETS/bpe_checkpoints/." >&2
  echo "  Create it with: $BUILD/tools/download_data && $BUILD/tools/train_tokenizer -n $TOKENIZER -v 10000" >&2
  exit 1
fi
if [[ -z "$MODEL" ]]; then
  newest=$(ls -t "$ASSETS"/model_checkpoints/*/checkpoint.*.bin 2>/dev/null | head -n 1 || true)
  if [[ -z "$newest" ]]; then
    echo "run_load.sh: no trained model in $ASSETS/model_checkpoints/." >&2
    echo "  Train one first, e.g.: $BUILD/tools/tokenize_splits -t $TOKENIZER && \\" >&2
    echo "    $BUILD/tools/train_model -t $TOKENIZER -n default_1m -nb 1000" >&2
    echo "  or pass -n MODEL -c ITER." >&2
    exit 1
  fi
  MODEL=$(basename "$(dirname "$newest")")
  ITER=$(basename "$newest" | sed -E 's/checkpoint\.([0-9]+)\.bin/\1/')
fi
ITER="${ITER:-0}"

LOG="${TMPDIR:-/tmp}/run_load.server.log"
OUT=$(mktemp)
echo "starting $SERVER -t $TOKENIZER -n $MODEL -c $ITER --port 0 (log: $LOG)"
"$SERVER" --assets "$ASSETS" -t "$TOKENIZER" -n "$MODEL" -c "$ITER" --host 127.0.0.1 --port 0 \
  --log_level warn >"$OUT" 2>"$LOG" &
SERVER_PID=$!
cleanup() { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -f "$OUT"; }
trap cleanup EXIT

PORT=""
for _ in $(seq 1 600); do
  PORT=$(sed -nE 's/^listening on 127\.0\.0\.1:([0-9]+)$/\1/p' "$OUT" | head -n 1)
  [[ -n "$PORT" ]] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "run_load.sh: llm_server exited; see $LOG:" >&2
    tail -n 5 "$LOG" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -n "$PORT" ]] || { echo "run_load.sh: llm_server did not start in 60 s" >&2; exit 1; }

echo "uptime: $(uptime)"
"$LOADGEN" --port "$PORT" "$@"
echo "uptime: $(uptime)"
