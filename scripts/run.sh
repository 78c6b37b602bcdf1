#!/usr/bin/env bash
# The main job: install, build, prepare whatever is missing (corpus, default
# tokenizer, token files, default model; see scripts/prepare_assets.sh), then
# start the server and open the interactive client. Leaving the client (Ctrl-D)
# stops the server gracefully (SIGTERM).
#
#   bash scripts/run.sh                # tokenize demo (like the original's default)
#   bash scripts/run.sh -e complete    # completion demo (arguments go to llm_client)
#
# Environment: BUILD_DIR (default build), LLM_ASSETS_DIR (default assets),
# LLM_PORT (default 50051; 0 = any free port), LLM_TOKENIZER (default default_10k),
# LLM_MODEL (default default_1m), LLM_MODEL_STEPS (default 1500: the checkpoint
# iteration trained and served), the other LLM_* variables of
# scripts/prepare_assets.sh, and LLM_SKIP_BUILD=1 (use BUILD_DIR as it is).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
export LLM_ASSETS_DIR="${LLM_ASSETS_DIR:-assets}"
export LLM_TOKENIZER="${LLM_TOKENIZER:-default_10k}"
export LLM_MODEL="${LLM_MODEL:-default_1m}"
export LLM_MODEL_STEPS="${LLM_MODEL_STEPS:-1500}"
export LLM_BIN_DIR="$BUILD_DIR/tools"
PORT="${LLM_PORT:-50051}"

say() { printf '\n==> %s\n' "$*"; }

if [ "${LLM_SKIP_BUILD:-0}" != 1 ]; then
  say "Installing dependencies and building (Release)"
  bash scripts/install_deps.sh
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
fi

say "Preparing assets"
bash scripts/prepare_assets.sh

say "Starting llm_server on 127.0.0.1:$PORT"
LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/llm_run.XXXXXX")"
"$BUILD_DIR/server/llm_server" -t "$LLM_TOKENIZER" -n "$LLM_MODEL" -c "$LLM_MODEL_STEPS" \
  --assets "$LLM_ASSETS_DIR" --host 127.0.0.1 -p "$PORT" >"$LOG_DIR/stdout" 2>"$LOG_DIR/server.log" &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap stop_server EXIT
for _ in $(seq 1 600); do
  if grep -q '^listening on ' "$LOG_DIR/stdout" 2>/dev/null; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "llm_server exited during startup; its log ($LOG_DIR/server.log):" >&2
    cat "$LOG_DIR/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
if ! grep -q '^listening on ' "$LOG_DIR/stdout"; then
  echo "llm_server did not start within 60 s; log: $LOG_DIR/server.log" >&2
  exit 1
fi
# The port actually bound (LLM_PORT=0 lets the OS choose one).
PORT="$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$LOG_DIR/stdout" | head -n 1)"
echo "llm_server listening on 127.0.0.1:$PORT (log: $LOG_DIR/server.log)"

if [ $# -eq 0 ]; then set -- -e tokenize; fi
say "Starting llm_client $*"
status=0
"$BUILD_DIR/client/llm_client" --host 127.0.0.1 -p "$PORT" "$@" || status=$?
exit "$status"
