#!/usr/bin/env bash
# The main job: prepare whatever is missing (corpus, default tokenizer, token
# files, default model), then start the server and open the interactive client.
#
#   bash scripts/run.sh                # tokenize demo (like the original's default)
#   bash scripts/run.sh -e complete    # completion demo
#
# Environment: BUILD_DIR (default build), LLM_ASSETS_DIR (default assets),
# LLM_PORT (default 50051), LLM_TOKENIZER (default default_10k),
# LLM_MODEL (default default_1m).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
ASSETS="${LLM_ASSETS_DIR:-assets}"
TOKENIZER="${LLM_TOKENIZER:-default_10k}"
MODEL="${LLM_MODEL:-default_1m}"
PORT="${LLM_PORT:-50051}"
BIN="$BUILD_DIR/tools"

say() { printf '\n==> %s\n' "$*"; }

say "Installing dependencies and building (Release)"
bash scripts/install_deps.sh
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"

if [ ! -f "$ASSETS/text/train.txt" ]; then
  say "Downloading and splitting the corpus"
  "$BIN/download_data" --assets "$ASSETS"
fi
if [ ! -f "$ASSETS/bpe_checkpoints/$TOKENIZER/merges.txt" ]; then
  say "Training the default tokenizer ($TOKENIZER)"
  "$BIN/train_tokenizer" --assets "$ASSETS" -n "$TOKENIZER"
fi
if [ ! -f "$ASSETS/tokens/$TOKENIZER/train" ]; then
  say "Tokenizing the splits"
  "$BIN/tokenize_splits" --assets "$ASSETS" -n "$TOKENIZER"
fi
