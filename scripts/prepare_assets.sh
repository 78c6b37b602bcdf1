#!/usr/bin/env bash
# Prepares the serving assets, doing only the steps whose output is missing:
#   1. the corpus and its train/val/test splits   (download_data)
#   2. the default tokenizer                       (train_tokenizer)
#   3. the tokenized splits                        (tokenize_splits)
#   4. the default model checkpoint                (train_model)
# When everything exists it prints "assets ready" and exits 0 without work.
# Shared by scripts/run.sh (a source checkout) and docker/prepare.sh (the
# `prepare` service of docker/docker-compose.yml), so both produce the same
# assets the same way.
#
#   scripts/prepare_assets.sh [--from CORPUS_FILE]
#
# Environment (defaults in brackets):
#   LLM_BIN_DIR          directory holding the tools    [${BUILD_DIR:-build}/tools]
#   LLM_ASSETS_DIR       assets root                    [assets]
#   LLM_TOKENIZER        tokenizer name                 [default_10k]
#   LLM_NUM_MERGES       merges of a new tokenizer      [10000]
#   LLM_MODEL            model checkpoint name          [default_1m]
#   LLM_MODEL_STEPS      training steps = the checkpoint iteration served [1500]
#   LLM_TRAIN_THREADS    OpenBLAS threads for training  [0 = all cores]
#   LLM_TRAIN_ARGS       extra train_model flags, e.g. "--d_model 32" (word-split)
#   LLM_CORPUS_FROM      local copy of the corpus (same as --from); without it
#                        download_data fetches the public URL, then tries the
#                        offline copy ($LLM_SHARED_DIR or ../shared)
set -euo pipefail

BIN="${LLM_BIN_DIR:-${BUILD_DIR:-build}/tools}"
ASSETS="${LLM_ASSETS_DIR:-assets}"
TOKENIZER="${LLM_TOKENIZER:-default_10k}"
NUM_MERGES="${LLM_NUM_MERGES:-10000}"
MODEL="${LLM_MODEL:-default_1m}"
STEPS="${LLM_MODEL_STEPS:-1500}"
THREADS="${LLM_TRAIN_THREADS:-0}"
read -r -a TRAIN_ARGS <<<"${LLM_TRAIN_ARGS:-}"
FROM="${LLM_CORPUS_FROM:-}"

while [ $# -gt 0 ]; do
  case "$1" in
    --from) FROM="${2:?--from needs a file}"; shift 2 ;;
    --from=*) FROM="${1#--from=}"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "prepare_assets: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

for tool in download_data train_tokenizer tokenize_splits train_model; do
  if [ ! -x "$BIN/$tool" ]; then
    echo "prepare_assets: $BIN/$tool not found; build the project or set LLM_BIN_DIR" >&2
    exit 1
  fi
done

say() { printf '\n==> %s\n' "$*"; }
export LLM_ASSETS_DIR="$ASSETS"
mkdir -p "$ASSETS"

if [ ! -f "$ASSETS/text/train.txt" ] || [ ! -f "$ASSETS/text/val.txt" ]; then
  say "Downloading and splitting the corpus into $ASSETS/text"
  if [ -n "$FROM" ]; then
    "$BIN/download_data" --assets "$ASSETS" --from "$FROM"
  else
    "$BIN/download_data" --assets "$ASSETS"
  fi
fi
if [ ! -f "$ASSETS/bpe_checkpoints/$TOKENIZER/merges.txt" ]; then
  say "Training the tokenizer $TOKENIZER ($NUM_MERGES merges)"
  "$BIN/train_tokenizer" --assets "$ASSETS" -n "$TOKENIZER" -m "$NUM_MERGES" -y
fi
if [ ! -f "$ASSETS/tokens/$TOKENIZER/train" ] || [ ! -f "$ASSETS/tokens/$TOKENIZER/val" ]; then
  say "Tokenizing the splits with $TOKENIZER"
  "$BIN/tokenize_splits" --assets "$ASSETS" -n "$TOKENIZER"
fi
MODEL_DIR="$ASSETS/model_checkpoints/$MODEL"
if [ ! -f "$MODEL_DIR/checkpoint.$STEPS.bin" ]; then
  # Never overwrite somebody's other checkpoints of the same name: only an
  # empty (or interrupted-before-the-first-checkpoint) model dir is reused.
  if compgen -G "$MODEL_DIR/checkpoint.*.bin" >/dev/null; then
    echo "prepare_assets: $MODEL_DIR has checkpoints but not checkpoint.$STEPS.bin:" \
         "$(cd "$MODEL_DIR" && ls checkpoint.*.bin | tr '\n' ' ')" >&2
    echo "prepare_assets: set LLM_MODEL_STEPS to one of them, pick another LLM_MODEL, or remove the dir" >&2
    exit 1
  fi
  # The default recipe of the README ("Default model recipe"): the original's
  # architecture, a short cosine-decayed run.
  say "Training the model $MODEL ($STEPS steps)"
  "$BIN/train_model" --assets "$ASSETS" -y -n "$MODEL" -t "$TOKENIZER" -bs 16 -nb "$STEPS" \
    --threads "$THREADS" -lr 3e-3 --schedule cosine --warmup $((STEPS / 10)) --min_lr 3e-4 \
    --eval_every 100 --checkpoint_every 100 "${TRAIN_ARGS[@]}"
fi
echo "assets ready: $ASSETS (tokenizer $TOKENIZER, model $MODEL iteration $STEPS)"
